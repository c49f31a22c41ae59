"""Signed HTTP calls to the API with one key: encoding, v2 signing, sending and retrying.

The resource modules build their paths and bodies with the helpers here and call `request`.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from importlib import metadata
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, urlsplit

from pointsnet import signing
from pointsnet.client.errors import PointsNetConnectionError, error_from, json_object
from pointsnet.client.responses import ApiResponse, to_response
from pointsnet.client.retries import (
    DEFAULT_BACKOFF_BASE_SECONDS,
    DEFAULT_MAX_RETRIES,
    backoff_seconds,
    is_retryable,
)

if TYPE_CHECKING:
    from pointsnet.credentials import Credentials

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
DEFAULT_TIMEOUT_SECONDS = 10.0

QueryValue = str | int | bool | None
Query = Mapping[str, QueryValue | Sequence[QueryValue]] | Sequence[tuple[str, QueryValue]]


def _sdk_version() -> str:
    try:
        return metadata.version("pointsnet")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"pointsnet-python/{_sdk_version()}"


class SignedTransport:
    """Sends API calls with one key. Thread-safe: it keeps no per-request state."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = DEFAULT_BACKOFF_BASE_SECONDS,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"base_url must not carry a query or fragment, got {base_url!r}")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self._secret = secret
        self.timeout = timeout
        self.max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._opener = urllib.request.build_opener()

    @classmethod
    def from_credentials(
        cls,
        credentials: Credentials,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = DEFAULT_MAX_RETRIES,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Self:
        return cls(
            credentials.base_url,
            credentials.key_id,
            credentials.secret.get_secret_value(),
            timeout=timeout,
            max_retries=max_retries,
            clock=clock,
            sleep=sleep,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        json_body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        signed: bool = True,
    ) -> ApiResponse:
        """Send one API call, retrying what is safe to retry; raise `PointsNetError` on errors.

        `path` starts with `/v1` and is what gets signed; the base URL's stage prefix is not.
        """
        method = method.upper()
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"path must start with '/' and carry no query, got {path!r}")
        raw_query = "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in _pairs(query)
        )
        body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        if method == "POST" and idempotency_key is None:
            idempotency_key = str(uuid.uuid4())
        url = self.base_url + path + (f"?{raw_query}" if raw_query else "")

        for attempt in range(self.max_retries + 1):
            headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
            if json_body is not None:
                headers["Content-Type"] = "application/json"
            if idempotency_key is not None:
                headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
            if signed:
                # Signed afresh on every attempt so a retry never carries a stale timestamp.
                timestamp = int(self._clock())
                # Version 2 signs the Idempotency-Key too, so the request cannot be re-sent
                # under another key.
                headers.update(
                    signing.sign_request(
                        self._secret,
                        self.key_id,
                        method,
                        path,
                        raw_query,
                        body,
                        timestamp,
                        idempotency_key=idempotency_key,
                        version=signing.LATEST_VERSION,
                    )
                )
            last_attempt = attempt == self.max_retries
            try:
                response = self._send(method, url, headers, body, has_body=json_body is not None)
            except (OSError, http.client.HTTPException) as exc:
                if last_attempt:
                    raise PointsNetConnectionError(f"{method} {url} failed: {exc}") from exc
                self._sleep(backoff_seconds(attempt, self._backoff_base))
                continue
            if response.status < 400:
                return response
            error = error_from(response)
            if last_attempt or not is_retryable(error):
                raise error
            self._sleep(backoff_seconds(attempt, self._backoff_base, error.retry_after))
        raise AssertionError("unreachable: the retry loop always returns or raises")

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, has_body: bool
    ) -> ApiResponse:
        request = urllib.request.Request(
            url, data=body if has_body else None, headers=headers, method=method
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return to_response(answer.status, answer.headers.items(), answer.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return to_response(exc.code, exc.headers.items(), exc.read())

    def _post(
        self, path: str, body: Mapping[str, Any], idempotency_key: str | None
    ) -> dict[str, Any]:
        return json_object(
            self.request("POST", path, json_body=body, idempotency_key=idempotency_key)
        )


def path_segment(value: str) -> str:
    """One path segment, percent-encoded; `:` and `@` (allowed in ids) are sent as they are."""
    if value in (".", ".."):
        # Dot segments would be collapsed by URL normalisation somewhere on the way.
        return value.replace(".", "%2E")
    return quote(value, safe=":@")


def without_none(**fields: Any) -> dict[str, Any]:
    """A JSON body of the fields that were given: an option left out is not sent as null."""
    return {name: value for name, value in fields.items() if value is not None}


def decimal_text(value: Decimal | str) -> str:
    """Money as a decimal string, never a JSON number."""
    if isinstance(value, float):
        raise TypeError("money is a Decimal or a decimal string, never a float")
    return format(value, "f") if isinstance(value, Decimal) else value


def _pairs(query: Query | None) -> list[tuple[str, str]]:
    if query is None:
        return []
    items: Sequence[tuple[str, Any]] = (
        list(query.items()) if isinstance(query, Mapping) else list(query)
    )
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((name, _query_text(item)) for item in values if item is not None)
    return pairs


def _query_text(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
