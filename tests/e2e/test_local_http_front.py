"""The local API's HTTP front: bursts of connections, its own refusals, encoded paths.

Raw sockets and http.client send what the SDK never would. Every network loop here is bounded
in count and in time, and talks only to 127.0.0.1.
"""

from __future__ import annotations

import errno
import http.client
import json
import selectors
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pointsnet import signing
from pointsnet.local.http_front import LISTEN_BACKLOG
from pointsnet.local.local_api import LocalApi
from pointsnet.local.runtime import LocalNetwork

BURST = 150
BURST_DEADLINE_SECONDS = 60.0
SOCKET_TIMEOUT_SECONDS = 10.0


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after this answer

    @property
    def error(self) -> dict[str, Any]:
        envelope = json.loads(self.body)
        assert set(envelope) == {"error"}, envelope
        error: dict[str, Any] = envelope["error"]
        return error


def address(base_url: str) -> tuple[str, int]:
    target = urlsplit(base_url)
    assert target.hostname == "127.0.0.1"
    assert target.port is not None
    return target.hostname, target.port


def send_raw(base_url: str, data: bytes, *, method: str = "GET") -> RawReply:
    """Write `data` as it is on a fresh connection and read the one answer to it."""
    with socket.create_connection(address(base_url), timeout=SOCKET_TIMEOUT_SECONDS) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        # Nothing more may follow on the connection: the next read is its end.
        closed = sock.recv(1) == b""
        return RawReply(response.status, headers, body, closed)


def assert_envelope(reply: RawReply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    error = reply.error
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"]
    assert reply.headers["x-request-id"] == error["request_id"]
    assert b"<html" not in reply.body.lower()


# -- a burst of connections -----------------------------------------------------------------


def burst_of_health_checks(base_url: str, count: int) -> list[bytes | str]:
    """Open `count` connections at once, then send GET /v1/health on each as it connects.

    Each entry is the raw answer read until the server closed, or what went wrong (a reset,
    a refused connection, the deadline)."""
    host, port = address(base_url)
    request = (
        f"GET /v1/health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    ).encode()
    outcomes: list[bytes | str] = ["" for _ in range(count)]
    received: dict[int, bytearray] = {}
    selector = selectors.DefaultSelector()
    sockets: list[socket.socket] = []
    try:
        # Every connect is started before any answer is read: a burst on the accept queue.
        for index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sockets.append(sock)
            started = sock.connect_ex((host, port))
            if started not in (0, errno.EINPROGRESS):
                outcomes[index] = f"connect failed: {errno.errorcode.get(started, started)}"
                sock.close()
                continue
            selector.register(sock, selectors.EVENT_WRITE, index)
        deadline = time.monotonic() + BURST_DEADLINE_SECONDS
        while selector.get_map() and time.monotonic() < deadline:
            for key, events in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                index = key.data
                sock = sockets[index]
                try:
                    if events & selectors.EVENT_WRITE:
                        failure = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if failure:
                            raise OSError(failure, errno.errorcode.get(failure, "?"))
                        assert sock.send(request) == len(request)  # a few dozen bytes
                        received[index] = bytearray()
                        selector.modify(sock, selectors.EVENT_READ, index)
                        continue
                    chunk = sock.recv(65536)
                    if chunk:
                        received[index] += chunk
                        continue
                    outcomes[index] = bytes(received[index])
                except OSError as exc:  # ConnectionResetError, BrokenPipeError, refused...
                    outcomes[index] = f"{type(exc).__name__}: {exc}"
                selector.unregister(sock)
                sock.close()
        for key in list(selector.get_map().values()):
            outcomes[key.data] = "no answer before the deadline"
    finally:
        selector.close()
        for sock in sockets:
            sock.close()
    return outcomes


def test_the_listen_queue_holds_a_burst_of_connections() -> None:
    """Given the local API's listen backlog / When it is read / Then it holds at least 128
    pending connections, not socketserver's default of 5."""
    assert LISTEN_BACKLOG >= 128


def test_a_burst_of_150_connections_is_answered_without_a_reset(local: LocalNetwork) -> None:
    """Given the local network / When 150 connections open at once and each then sends
    GET /v1/health / Then every one gets 200 ok: none is reset, refused or left unanswered."""
    outcomes = burst_of_health_checks(local.base_url, BURST)

    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert failures == [], f"{len(failures)} of {BURST} failed, e.g. {failures[:3]}"
    for raw in outcomes:
        assert isinstance(raw, bytes)
        assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]
        assert json.loads(raw.partition(b"\r\n\r\n")[2]) == {"status": "ok"}


# -- what the HTTP front refuses itself ------------------------------------------------------


@pytest.mark.parametrize(
    "request_line",
    [
        pytest.param(b"GARBAGE", id="one-word"),
        pytest.param(b"GET /v1/health HTTP/1.1 trailing words", id="too-many-words"),
        pytest.param(b"GET /v1/health HTTX/1.1", id="not-http"),
        pytest.param(b"GET /v1/health HTTP/2.0", id="unsupported-version"),
        pytest.param(b"GET /v1/" + b"a" * 70_000 + b" HTTP/1.1", id="over-64-KiB"),
    ],
)
def test_a_malformed_request_line_answers_the_envelope(
    local: LocalNetwork, request_line: bytes
) -> None:
    """Given a request line the front cannot parse / When it is sent / Then the answer is JSON
    in the contract's envelope, 422 validation_error with a request id, and the connection
    is closed."""
    reply = send_raw(local.base_url, request_line + b"\r\nHost: 127.0.0.1\r\n\r\n")

    assert_envelope(reply, 422, "validation_error")
    assert reply.headers["connection"] == "close"
    assert reply.closed


def test_an_over_long_header_line_answers_the_envelope(local: LocalNetwork) -> None:
    """Given a header line over 64 KiB / When it is sent / Then the envelope, 422
    validation_error, and the connection is closed."""
    reply = send_raw(
        local.base_url,
        b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    )

    assert_envelope(reply, 422, "validation_error")
    assert reply.closed


def test_too_many_headers_answer_the_envelope(local: LocalNetwork) -> None:
    """Given a request with more headers than the front reads / When it is sent / Then the
    envelope, 422 validation_error."""
    headers = b"".join(b"X-H%d: v\r\n" % number for number in range(150))
    reply = send_raw(local.base_url, b"GET /v1/health HTTP/1.1\r\n" + headers + b"\r\n")

    assert_envelope(reply, 422, "validation_error")


def test_a_refused_head_request_has_headers_and_no_body(local: LocalNetwork) -> None:
    """Given a HEAD request with an over-long header / When the front refuses it / Then the
    answer announces the envelope's length and type but sends no body, and closes."""
    reply = send_raw(
        local.base_url,
        b"HEAD /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",
        method="HEAD",
    )

    assert reply.status == 422
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers["content-length"]) > 0
    assert reply.body == b""
    assert reply.closed


def test_an_unknown_method_answers_route_not_found(local: LocalNetwork) -> None:
    """Given a method no route serves (BREW) / When it is sent / Then 404 route_not_found in
    the envelope, not the stdlib's HTML 501, and the connection is closed."""
    reply = send_raw(local.base_url, b"BREW /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    assert_envelope(reply, 404, "route_not_found")
    assert reply.closed


def test_a_bad_chunked_body_answers_the_envelope(local: LocalNetwork) -> None:
    """Given a chunked POST whose chunk size is not hexadecimal / When it is sent / Then the
    envelope, 422 validation_error, and the connection is closed."""
    reply = send_raw(
        local.base_url,
        b"POST /v1/members/m-1/earn HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n",
    )

    assert_envelope(reply, 422, "validation_error")
    assert reply.closed


def test_a_bad_content_length_answers_the_envelope(local: LocalNetwork) -> None:
    """Given a Content-Length that is not a number / When it is sent / Then the envelope, 422
    validation_error, and the connection is closed."""
    reply = send_raw(
        local.base_url,
        b"POST /v1/members/m-1/earn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ten\r\n\r\n",
    )

    assert_envelope(reply, 422, "validation_error")
    assert reply.closed


def test_the_connection_serves_on_after_an_ordinary_answer(local: LocalNetwork) -> None:
    """Given a kept-alive connection / When two requests go over it, the first an (unsigned)
    HEAD / Then both are answered on it: HEAD with the envelope's length but no body, and only
    `Connection: close` ends the connection."""
    host, port = address(local.base_url)
    connection = http.client.HTTPConnection(host, port, timeout=SOCKET_TIMEOUT_SECONDS)
    try:
        connection.request("HEAD", "/v1/health")
        head = connection.getresponse()
        head_body = head.read()
        head_connection = head.getheader("Connection")
        connection.request("GET", "/v1/health", headers={"Connection": "close"})
        last = connection.getresponse()
        last_body = last.read()
    finally:
        connection.close()

    assert head.status < 500
    assert head_body == b""
    assert int(head.getheader("Content-Length") or 0) > 0
    assert head_connection != "close"
    assert last.status == 200
    assert json.loads(last_body) == {"status": "ok"}
    assert last.getheader("Connection") == "close"


# -- percent-encoded paths -------------------------------------------------------------------


def signed_call(
    local: LocalNetwork,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    signed_path: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """One request as starlodge, sent over `path` exactly as written and signed over
    `signed_path` (the same path unless told)."""
    key = local.key("starlodge")
    raw = b"" if body is None else json.dumps(body).encode()
    headers = signing.sign_request(
        key["secret"], key["key_id"], method, signed_path or path, "", raw, int(time.time())
    )
    if body is not None:
        headers |= {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    host, port = address(local.base_url)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path, raw or None, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(("literal", "encoded"), [(":", "%3A"), ("@", "%40")])
def test_an_encoded_member_id_earns_for_the_decoded_member(
    local: LocalNetwork, literal: str, encoded: str
) -> None:
    """Given a member id with a character the contract allows (cx:… / cx@…) / When a raw
    request signed over the percent-encoded path earns 40 / Then it posts for the decoded
    member, whose balance the SDK then reads under the literal id."""
    suffix = uuid.uuid4().hex[:12]
    member = f"cx{literal}{suffix}"

    status, body = signed_call(
        local,
        "POST",
        f"/v1/members/cx{encoded}{suffix}/earn",
        {"points": 40, "reference": f"encoded-{suffix}"},
    )

    assert status == 201, body
    assert body["transaction"]["member_id"] == member
    assert body["balance"]["available"] == 40
    assert local.client("starlodge").get_member(member)["balance"]["available"] == 40


@pytest.mark.parametrize(("literal", "encoded"), [(":", "%3A"), ("@", "%40")])
def test_the_encoded_and_the_literal_spelling_are_one_member(
    local: LocalNetwork, literal: str, encoded: str
) -> None:
    """Given the SDK / When it earns 10 over the encoded path (signing it as written) and 5
    over the literal one / Then both posted to one member, who holds 15."""
    suffix = uuid.uuid4().hex[:12]
    member = f"cx{literal}{suffix}"
    client = local.client("starlodge")

    first = client.request(
        "POST",
        f"/v1/members/cx{encoded}{suffix}/earn",
        json_body={"points": 10, "reference": f"enc-{suffix}"},
    )
    second = client.earn(member, 5, f"lit-{suffix}")

    assert first.status == 201
    assert second["transaction"]["member_id"] == member
    assert second["balance"]["available"] == 15
    assert client.get_member(member)["balance"]["available"] == 15


def test_a_path_is_decoded_once_only(local: LocalNetwork) -> None:
    """Given `%2541`, an encoded `%41` / When a signed GET of that member is sent / Then the
    member id is `cx%41` (an id its pattern refuses: not found), never `cxA`: one decoding,
    as API Gateway does."""
    status, body = signed_call(local, "GET", "/v1/members/cx%2541")

    assert status == 404, body
    assert body["error"]["code"] == "not_found"
    assert "cx%41" in body["error"]["message"]


def test_a_signature_over_another_member_does_not_verify(local: LocalNetwork) -> None:
    """Given a signature over cx%3A1's earn path / When it is presented for cx%3A2 / Then 401
    invalid_signature: accepting the encoded spelling lets no signature reach another path."""
    status, body = signed_call(
        local,
        "POST",
        "/v1/members/cx%3A2/earn",
        {"points": 1, "reference": "forged"},
        signed_path="/v1/members/cx%3A1/earn",
    )

    assert status == 401, body
    assert body["error"]["code"] == "invalid_signature"


# -- the event a function receives for an encoded path ---------------------------------------

ECHO_EVENT_FUNCTION = """
import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "rawPath": event["rawPath"],
        "httpPath": event["requestContext"]["http"]["path"],
        "pathParameters": event.get("pathParameters"),
        "rawQueryString": event["rawQueryString"],
    })}
"""


@pytest.fixture(scope="module")
def event_echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Given a function that answers the event it got, on `/things/{thing_id}`, in-process."""
    code_dir: Path = tmp_path_factory.mktemp("event_echo")
    (code_dir / "app.py").write_text(ECHO_EVENT_FUNCTION, encoding="utf-8")
    template = {
        "Resources": {
            # In-process handlers are cached by logical id: unique, so no other test's echo.
            "EventEchoFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": str(code_dir),
                    "Handler": "app.handler",
                    "Events": {
                        "Get": {
                            "Type": "HttpApi",
                            "Properties": {"Path": "/things/{thing_id}", "Method": "GET"},
                        }
                    },
                },
            }
        }
    }
    with LocalApi(template, {}, port=0, workers=0) as api:
        yield api.base_url


def test_the_event_holds_the_path_decoded_once(event_echo: str) -> None:
    """Given a function that echoes its event / When GET /things/cx%3A1%20%2541?q=a%20b is
    sent / Then rawPath, requestContext.http.path and pathParameters hold `cx:1 %41` (decoded
    once, as API Gateway's HTTP API delivers them) and rawQueryString stays as sent."""
    host, port = address(event_echo)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("GET", "/things/cx%3A1%20%2541?q=a%20b")
        response = connection.getresponse()
        event = json.loads(response.read())
    finally:
        connection.close()

    assert event == {
        "rawPath": "/things/cx:1 %41",
        "httpPath": "/things/cx:1 %41",
        "pathParameters": {"thing_id": "cx:1 %41"},
        "rawQueryString": "q=a%20b",
    }
