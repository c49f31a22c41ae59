"""The local API's HTTP front: a threaded HTTP/1.1 server in front of the gateway.

It reads and frames requests (Content-Length, chunked bodies, `Expect: 100-continue`), refuses
what API Gateway would refuse before any route (a malformed request, a body over 10 MiB) in the
API's error envelope, decodes the path once, and hands each request to the API: paths under
`/_local/` to the local control endpoints, the rest to the gateway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from pointsnet.errors import PayloadTooLarge, PointsNetError, RouteNotFound
from pointsnet.local.gateway import HttpResponse, error_response

logger = logging.getLogger("pointsnet.local")
access_log = logging.getLogger("pointsnet.local.access")

# API Gateway refuses larger payloads before any function sees them.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
# Beyond this an oversized body is not read at all; the connection is just closed.
MAX_DRAINED_BYTES = 64 * 1024 * 1024
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Local only (no API Gateway route has it): the local runtime's own endpoints.
LOCAL_CONTROL_PREFIX = "/_local/"

# Connections a burst opens at once wait in the kernel's accept queue until the serving thread
# accepts them. socketserver's default of 5 refused or reset most of 40 concurrent clients;
# a burst of SDK clients, the bench or a load test needs hundreds. The kernel caps it at
# net.core.somaxconn.
LISTEN_BACKLOG = 1024


class BadRequest(Exception):
    """A request the HTTP layer refuses before any routing."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


ControlEndpoints = Callable[[str, str, bytes], HttpResponse]


class ServedApi(Protocol):
    """What the HTTP front hands requests to: `control` for `/_local/`, `dispatch` for the rest."""

    control: ControlEndpoints | None

    def dispatch(
        self,
        method: str,
        raw_path: str,
        *,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes,
        source_ip: str,
    ) -> HttpResponse: ...


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG
    api: ServedApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-response are routine; never print a traceback for them.
        logger.debug("connection from %s failed", client_address, exc_info=True)


class LocalApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PointsNetLocal"
    server: LocalHttpServer

    def version_string(self) -> str:
        return self.server_version

    def handle_expect_100(self) -> bool:
        # Refuse an announced oversized body before the client sends it.
        try:
            length = self._declared_length()
        except BadRequest as refused:
            self._write(refused.response)
            return False
        if length > MAX_REQUEST_BODY_BYTES:
            self._write(self._too_large())
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The refusals BaseHTTPRequestHandler sends itself, in the API's envelope, not HTML.

        It answers a malformed request line or HTTP version, a request line over 64 KiB, a
        header line too long or too many headers, and a method no `do_` serves. It may run
        before the request line is parsed: `command` may be None or "", `headers` unset. The
        connection is always closed: whatever follows on it cannot be trusted to be a request.
        """
        self.log_error("code %d, message %s", code, message)
        if getattr(self, "request_version", "") in ("", "HTTP/0.9"):
            # Unparsed (or HTTP/0.9) requests would get a bare body with no status line.
            self.request_version = self.protocol_version
        reason = message or self.responses.get(code, ("refused", ""))[0]
        text = f"{reason}: {explain}" if explain else reason
        text = text if len(text) <= 200 else text[:197] + "..."
        # The status follows the contract's code (the one mapping), not the stdlib's 4xx/5xx.
        if code == 501:  # Not Implemented: a method no route serves
            response = error_response(
                RouteNotFound(f"no route serves this method: {text}"), close=True
            )
        else:
            response = _malformed(f"the HTTP request is malformed: {text}")
        self._write(response)
        access_log.info("%r refused %d", getattr(self, "requestline", "")[:200], response.status)

    def serve(self) -> None:
        started = time.perf_counter()
        try:
            response = self._respond()
        except Exception:
            logger.exception("the local API failed on %s %s", self.command, self.path)
            response = error_response(PointsNetError("an internal error occurred"))
        self._write(response)
        access_log.info(
            "%s %s %d %.0f ms",
            self.command,
            self.path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    def _respond(self) -> HttpResponse:
        target = urlsplit(self.path)
        try:
            body = self._read_body()
        except BadRequest as refused:
            return refused.response
        headers: dict[str, str] = {}
        for name in self.headers:
            if name.lower() not in headers:
                # API Gateway joins a repeated header's values with commas.
                headers[name.lower()] = ",".join(self.headers.get_all(name) or [])
        # API Gateway's HTTP API decodes the path once, before routing: `rawPath`,
        # `requestContext.http.path` and `pathParameters` all hold `cx:1` for `cx%3A1`.
        # The query stays as sent in `rawQueryString`.
        path = unquote(target.path or "/")
        api = self.server.api
        if api.control is not None and path.startswith(LOCAL_CONTROL_PREFIX):
            return api.control(self.command, path, body)
        return api.dispatch(
            self.command,
            path,
            raw_query=target.query,
            headers=headers,
            body=body,
            source_ip=self.client_address[0],
        )

    def _declared_length(self) -> int:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            raise BadRequest(_malformed("Content-Length is not a whole number of bytes"))
        return length

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self._declared_length()
        if length > MAX_REQUEST_BODY_BYTES:
            self._discard(length)
            raise BadRequest(self._too_large())
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequest(
                    _malformed("a chunk size of the body is not hexadecimal")
                ) from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BODY_BYTES:
                raise BadRequest(self._too_large())
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _discard(self, length: int) -> None:
        if length > MAX_DRAINED_BYTES:
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)

    def _too_large(self) -> HttpResponse:
        return error_response(
            PayloadTooLarge(f"the body is over {MAX_REQUEST_BODY_BYTES} bytes"), close=True
        )

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        # close_connection is already set when the client asked for `Connection: close` (or
        # spoke HTTP/1.0): say so, as HTTP/1.1 asks of the final response on a connection.
        if response.close or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        # `command` is unset until a request line is read (send_error may answer before).
        if getattr(self, "command", None) != "HEAD" and response.body:
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # serve() logs one line per request with its duration

    def log_message(self, format: str, *args: Any) -> None:
        access_log.debug(format, *args)


def _malformed(message: str) -> HttpResponse:
    """The HTTP front's own answer to a request it cannot parse, before any route.

    API Gateway answers these `{"message": "Bad Request"}`; locally every answer carries the
    contract's envelope instead. The connection is closed: after a framing error nothing says
    where the next request would start.
    """
    from pointsnet.errors import MalformedRequest

    return error_response(MalformedRequest(message), close=True)


for _method in HTTP_METHODS:
    setattr(LocalApiRequestHandler, f"do_{_method}", LocalApiRequestHandler.serve)
