"""The PointsNet SDK: signed HTTP calls to the public API, standard library only.

    client = PointsNetClient("https://api.example.com/Prod", key_id, secret)
    client.earn("m-1", 100, "order-1")

A partner key calls the partner endpoints; an admin key the admin ones (`create_partner`,
`list_partners`, `issue_key`, `list_keys`, `revoke_key`).

Every POST carries an `Idempotency-Key`, generated per call unless given, and the same key is
sent again on the client's own retries so a retried call never posts twice.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import metadata
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast
from urllib.parse import quote, urlsplit

from pointsnet import signing

if TYPE_CHECKING:
    from pointsnet.credentials import Credentials

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_BASE_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 5.0
# A 429's Retry-After is waited out when at most this long; a longer one is raised at once.
MAX_RETRY_AFTER_SECONDS = 30

QueryValue = str | int | bool | None
Query = Mapping[str, QueryValue | Sequence[QueryValue]] | Sequence[tuple[str, QueryValue]]


def _sdk_version() -> str:
    try:
        return metadata.version("pointsnet")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"pointsnet-python/{_sdk_version()}"


class Partner(TypedDict):
    """A partner of the network, as the admin API answers it."""

    partner_id: str
    name: str
    program: NotRequired[str]
    point_value: NotRequired[str]  # a decimal string, never a float
    currency: str
    created_at: str
    signing: NotRequired[PartnerSigning]
    rate_limit: NotRequired[PartnerRateLimit]


class PartnerRateLimit(TypedDict):
    """A partner's request rate limit, shared by all its keys."""

    rate: int  # requests per second
    burst: int


class PartnerSigning(TypedDict):
    """What a partner's requests must be signed with."""

    minimum_version: int  # 2: v1 signatures are refused


class ApiKey(TypedDict):
    """An API key as listed: never its secret."""

    key_id: str
    partner_id: str
    role: str
    status: str
    created_at: str
    revoked_at: NotRequired[str | None]


class IssuedKey(ApiKey):
    """A new API key with its secret, which the API shows this once only."""

    secret: str


class PointsNetError(Exception):
    """An error answered by the API (or no answer at all), with the API's stable `code`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        details: Any = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message} (status {status}, request {request_id or '-'})")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details
        self.retry_after = retry_after  # seconds, from a 429's Retry-After header


class PointsNetConnectionError(PointsNetError):
    """The API could not be reached (or did not answer) after every retry."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "connection_error", message)


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer. `headers` have lower-case names; `body` is parsed JSON or text."""

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def replayed(self) -> bool:
        """True when the API answered a repeated idempotency key with the first response."""
        return self.headers.get(REPLAYED_HEADER.lower(), "").lower() == "true"


class PointsNetClient:
    """Calls the PointsNet API with one key. Thread-safe: it keeps no per-request state."""

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
    ) -> PointsNetClient:
        return cls(
            credentials.base_url,
            credentials.key_id,
            credentials.secret.get_secret_value(),
            timeout=timeout,
            max_retries=max_retries,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"PointsNetClient(base_url={self.base_url!r}, key_id={self.key_id!r})"

    # -- generic request -------------------------------------------------------------------

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
                self._backoff(attempt)
                continue
            if response.status < 400:
                return response
            error = _error_from(response)
            if last_attempt or not _is_retryable(error):
                raise error
            if error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER_SECONDS:
                raise error
            self._backoff(attempt, error.retry_after)
        raise AssertionError("unreachable: the retry loop always returns or raises")

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, *, has_body: bool
    ) -> ApiResponse:
        request = urllib.request.Request(
            url, data=body if has_body else None, headers=headers, method=method
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return _to_response(answer.status, answer.headers.items(), answer.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return _to_response(exc.code, exc.headers.items(), exc.read())

    def _backoff(self, attempt: int, retry_after: int | None = None) -> None:
        if retry_after is not None:
            # The server said when: wait that long, and up to a tenth more so clients spread.
            self._sleep(retry_after + random.uniform(0, retry_after / 10))
            return
        delay = min(self._backoff_base * 2**attempt, MAX_BACKOFF_SECONDS)
        # Equal jitter: at least half the delay, so clients that failed together spread out.
        self._sleep(delay / 2 + random.uniform(0, delay / 2))

    # -- partner endpoints -----------------------------------------------------------------

    def earn(
        self,
        member_id: str,
        points: int,
        reference: str,
        *,
        program: str | None = None,
        description: str | None = None,
        pending: bool | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Credit points to a member; returns `transaction` and `balance`."""
        body = _without_none(
            points=points,
            reference=reference,
            program=program,
            description=description,
            pending=pending,
        )
        return self._post(f"/v1/members/{_segment(member_id)}/earn", body, idempotency_key)

    def burn(
        self,
        member_id: str,
        points: int,
        reference: str,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Debit points from a member; 409 `insufficient_points` when the balance is short."""
        body = _without_none(points=points, reference=reference, description=description)
        return self._post(f"/v1/members/{_segment(member_id)}/burn", body, idempotency_key)

    def get_member(self, member_id: str) -> dict[str, Any]:
        """A member with its `balance` (`available`, `pending`) and `links`."""
        return _object(self.request("GET", f"/v1/members/{_segment(member_id)}"))

    def list_transactions(
        self, member_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of a member's transactions, newest first: `items` and `next_cursor`."""
        response = self.request(
            "GET",
            f"/v1/members/{_segment(member_id)}/transactions",
            query={"limit": limit, "cursor": cursor},
        )
        return _object(response)

    def iter_transactions(
        self, member_id: str, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every transaction of a member, newest first, following `next_cursor` page by page."""
        cursor: str | None = None
        while True:
            page = self.list_transactions(member_id, limit=page_size, cursor=cursor)
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        """One transaction of the calling partner."""
        return _object(self.request("GET", f"/v1/transactions/{_segment(transaction_id)}"))

    def reverse(
        self,
        transaction_id: str,
        *,
        points: int | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Reverse a transaction, wholly or `points` of it; returns the reversal transaction."""
        body = _without_none(points=points, reason=reason)
        return self._post(
            f"/v1/transactions/{_segment(transaction_id)}/reverse", body, idempotency_key
        )

    def capture(
        self,
        hold_id: str,
        *,
        points: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Make a hold's points available, all or `points` of them (the rest is released)."""
        body = _without_none(points=points)
        return self._post(f"/v1/transactions/{_segment(hold_id)}/capture", body, idempotency_key)

    def void(
        self, hold_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Release every point of a hold."""
        body = _without_none(reason=reason)
        return self._post(f"/v1/transactions/{_segment(hold_id)}/void", body, idempotency_key)

    # -- network endpoints (role partner) ---------------------------------------------------

    def propose_link(
        self,
        member_id: str,
        partner_program: str,
        partner_member_id: str,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Propose linking your member to a member of another program; it starts `pending`."""
        body = {
            "member_id": member_id,
            "partner_program": partner_program,
            "partner_member_id": partner_member_id,
        }
        return self._post("/v1/links", body, idempotency_key)

    def confirm_link(self, link_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Confirm a link the other partner proposed; it becomes `active`."""
        return self._post(f"/v1/links/{_segment(link_id)}/confirm", {}, idempotency_key)

    def revoke_link(self, link_id: str) -> dict[str, Any]:
        """Revoke a link (either side may); it becomes `revoked`."""
        return _object(self.request("DELETE", f"/v1/links/{_segment(link_id)}"))

    def get_link(self, link_id: str) -> dict[str, Any]:
        return _object(self.request("GET", f"/v1/links/{_segment(link_id)}"))

    def get_rate(self, from_program: str, to_program: str) -> dict[str, Any]:
        """The rate in force: points of `to` per point of `from`, a decimal string."""
        return _object(
            self.request("GET", "/v1/rates", query={"from": from_program, "to": to_program})
        )

    def create_quote(
        self,
        member_id: str,
        from_program: str,
        to_program: str,
        points: int,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Lock the rate for an exchange: `points_out`, `points_in`, `expires_at`."""
        body = {
            "member_id": member_id,
            "from_program": from_program,
            "to_program": to_program,
            "points": points,
        }
        return self._post("/v1/quotes", body, idempotency_key)

    def exchange(self, quote_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Move the quoted points between programs, both legs at once."""
        return self._post("/v1/exchanges", {"quote_id": quote_id}, idempotency_key)

    # -- admin endpoints (role admin) -------------------------------------------------------

    def create_partner(
        self,
        partner_id: str,
        name: str,
        program: str,
        point_value: Decimal | str,
        *,
        currency: str | None = None,
        idempotency_key: str | None = None,
    ) -> Partner:
        """Add a partner and its program; `point_value` is what one point is worth."""
        body = _without_none(
            partner_id=partner_id,
            name=name,
            program=program,
            point_value=_decimal_text(point_value),
            currency=currency,
        )
        return cast(Partner, self._post("/v1/partners", body, idempotency_key))

    def list_partners(self) -> list[Partner]:
        """Every partner of the network."""
        return cast(list[Partner], _object(self.request("GET", "/v1/partners")).get("items", []))

    def issue_key(
        self, partner_id: str, role: str = "partner", *, idempotency_key: str | None = None
    ) -> IssuedKey:
        """Issue a key of `role` to a partner; the answer holds its secret, shown only this once.

        A retry with the same idempotency key after the secret was created raises
        `PointsNetError` with code `conflict` rather than showing the secret again.
        """
        path = f"/v1/partners/{_segment(partner_id)}/keys"
        return cast(IssuedKey, self._post(path, {"role": role}, idempotency_key))

    def set_rate_limit(self, partner_id: str, rate: int, burst: int) -> Partner:
        """Limit all the partner's keys to `rate` requests a second, bursts up to `burst`."""
        path = f"/v1/partners/{_segment(partner_id)}/rate-limit"
        body = {"rate": rate, "burst": burst}
        return cast(Partner, _object(self.request("PUT", path, json_body=body)))

    def set_signing(self, partner_id: str, minimum_version: int) -> Partner:
        """Set the lowest signature version the partner's keys may use (2: v2-only)."""
        path = f"/v1/partners/{_segment(partner_id)}/signing"
        body = {"minimum_version": minimum_version}
        return cast(Partner, _object(self.request("PUT", path, json_body=body)))

    def list_keys(self, partner_id: str) -> list[ApiKey]:
        """A partner's keys, revoked ones included, without secrets."""
        response = self.request("GET", f"/v1/partners/{_segment(partner_id)}/keys")
        return cast(list[ApiKey], _object(response).get("items", []))

    def revoke_key(self, partner_id: str, key_id: str) -> ApiKey:
        """Revoke a key; it is refused within the network's KeyCacheSeconds (30 s by default)."""
        path = f"/v1/partners/{_segment(partner_id)}/keys/{_segment(key_id)}"
        return cast(ApiKey, _object(self.request("DELETE", path)))

    def set_rate(
        self,
        from_program: str,
        to_program: str,
        rate: Decimal | str,
        *,
        price: Decimal | str | None = None,
        effective_from: str | None = None,
    ) -> dict[str, Any]:
        """Publish a rate (admin); earlier rates stay in history."""
        body = _without_none(
            rate=_decimal_text(rate),
            price=_decimal_text(price) if price is not None else None,
            effective_from=effective_from,
        )
        return _object(
            self.request(
                "PUT",
                f"/v1/rates/{_segment(from_program)}/{_segment(to_program)}",
                json_body=body,
            )
        )

    def start_settlement_run(
        self,
        period_start: date | str,
        period_end: date | str,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> ApiResponse:
        """Reconcile and settle the UTC days `period_start`..`period_end` (admin).

        201: the body is the settlement. 202: the run kept its progress (the body) and needs
        the same call again, with the same `idempotency_key`, to carry on.
        """
        body = _without_none(
            period_start=str(period_start), period_end=str(period_end), reason=reason
        )
        return self.request(
            "POST", "/v1/settlement-runs", json_body=body, idempotency_key=idempotency_key
        )

    # -- finance endpoints (role finance) ---------------------------------------------------

    def list_settlements(
        self,
        *,
        status: str | None = None,
        period_start: date | str | None = None,
        period_end: date | str | None = None,
    ) -> list[dict[str, Any]]:
        """Settlements, oldest period first; periods starting on or after `period_start` and
        ending on or before `period_end`."""
        query = {
            "status": status,
            "period_start": str(period_start) if period_start else None,
            "period_end": str(period_end) if period_end else None,
        }
        items = _object(self.request("GET", "/v1/settlements", query=query)).get("items", [])
        return list(items)

    def get_settlement(self, settlement_id: str) -> dict[str, Any]:
        """A settlement: lines, bilateral netting, net positions, checks and audit trail."""
        return _object(self.request("GET", f"/v1/settlements/{_segment(settlement_id)}"))

    def settlement_report(self, settlement_id: str, report_format: str = "json") -> str:
        """The report's text: `csv`, `json` or `html`."""
        response = self.request(
            "GET",
            f"/v1/settlements/{_segment(settlement_id)}/report",
            query={"format": report_format},
        )
        if isinstance(response.body, str):
            return response.body
        return json.dumps(response.body, indent=2, ensure_ascii=False) + "\n"

    def approve_settlement(
        self,
        settlement_id: str,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Approve a `draft` or `needs_review` settlement; its figures never change again."""
        path = f"/v1/settlements/{_segment(settlement_id)}/approve"
        return self._post(path, _without_none(reason=reason), idempotency_key)

    def dispute_settlement(
        self, settlement_id: str, reason: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Dispute a `draft` or `needs_review` settlement; the next run of its period redoes it."""
        path = f"/v1/settlements/{_segment(settlement_id)}/dispute"
        return self._post(path, {"reason": reason}, idempotency_key)

    def mark_settlement_paid(
        self,
        settlement_id: str,
        payment_reference: str,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record the payment of an `approved` settlement."""
        path = f"/v1/settlements/{_segment(settlement_id)}/mark-paid"
        body = _without_none(payment_reference=payment_reference, reason=reason)
        return self._post(path, body, idempotency_key)

    def set_policy(self, partner_id: str, policy: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a program's policy (admin): `expiry`, `tiers`, `hold_timeout_days`."""
        path = f"/v1/partners/{_segment(partner_id)}/policy"
        return _object(self.request("PUT", path, json_body=dict(policy)))

    def get_policy(self, partner_id: str) -> dict[str, Any]:
        """A program's policy (admin); the default when none was set."""
        return _object(self.request("GET", f"/v1/partners/{_segment(partner_id)}/policy"))

    def health(self) -> dict[str, Any]:
        """The unsigned health check."""
        return _object(self.request("GET", "/v1/health", signed=False))

    def _post(
        self, path: str, body: Mapping[str, Any], idempotency_key: str | None
    ) -> dict[str, Any]:
        return _object(self.request("POST", path, json_body=body, idempotency_key=idempotency_key))


def _segment(value: str) -> str:
    """One path segment, percent-encoded; `:` and `@` (allowed in ids) are sent as they are."""
    if value in (".", ".."):
        # Dot segments would be collapsed by URL normalisation somewhere on the way.
        return value.replace(".", "%2E")
    return quote(value, safe=":@")


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


def _decimal_text(value: Decimal | str) -> str:
    if isinstance(value, float):
        raise TypeError("money is a Decimal or a decimal string, never a float")
    return format(value, "f") if isinstance(value, Decimal) else value


def _without_none(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _to_response(status: int, header_items: Sequence[tuple[str, str]], raw: bytes) -> ApiResponse:
    headers = {name.lower(): value for name, value in header_items}
    return ApiResponse(status=status, headers=headers, body=_parse_body(headers, raw))


def _parse_body(headers: Mapping[str, str], raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    content_type = headers.get("content-type", "")
    if "json" in content_type or not content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _error_from(response: ApiResponse) -> PointsNetError:
    body = response.body
    error = body.get("error") if isinstance(body, dict) else None
    header_request_id = response.headers.get("x-request-id") or response.headers.get(
        "x-amzn-requestid"
    )
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return PointsNetError(
            status=response.status,
            code=error["code"],
            message=str(error.get("message", "")),
            request_id=error.get("request_id") or header_request_id,
            details=error.get("details"),
            retry_after=_retry_after(response),
        )
    # Not the API's error shape: e.g. a gateway or proxy answering before the API does.
    message = body.get("message") if isinstance(body, dict) else body
    return PointsNetError(
        status=response.status,
        code=f"http_{response.status}",
        message=str(message or http.client.responses.get(response.status, "error"))[:500],
        request_id=header_request_id,
    )


def _retry_after(response: ApiResponse) -> int | None:
    """A 429's Retry-After in whole seconds (at least 1), when it has one in that form."""
    value = response.headers.get("retry-after", "").strip()
    if response.status != 429 or not (value.isascii() and value.isdigit()):
        return None
    return max(1, int(value))


def _is_retryable(error: PointsNetError) -> bool:
    return (
        error.status == 429
        or error.status >= 500
        or (error.status == 409 and error.code == "request_in_progress")
    )


def _object(response: ApiResponse) -> dict[str, Any]:
    if isinstance(response.body, dict):
        return response.body
    raise PointsNetError(
        status=response.status,
        code="invalid_response",
        message=f"expected a JSON object, got {type(response.body).__name__}",
        request_id=response.headers.get("x-request-id"),
    )
