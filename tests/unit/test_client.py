"""The partner SDK against a tiny loopback server that checks signatures with pointsnet.signing."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from pydantic import SecretStr

from pointsnet import signing
from pointsnet.client import (
    USER_AGENT,
    ApiResponse,
    PointsNetClient,
    PointsNetConnectionError,
    PointsNetError,
)
from pointsnet.credentials import Credentials

KEY_ID = "k-star"
SECRET = "s3cr3t-star"
STAGE = "/Prod"


@dataclass
class SeenRequest:
    method: str
    raw_path: str
    path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def decoded_query(self) -> list[tuple[str, str]]:
        pairs = []
        for segment in filter(None, self.raw_query.split("&")):
            name, _, value = segment.partition("=")
            pairs.append((unquote(name), unquote(value)))
        return pairs


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class FakeApi:
    """Strips the stage like API Gateway, verifies the signature, answers scripted responses."""

    def __init__(self, stage: str = STAGE) -> None:
        self.stage = stage
        self.seen: list[SeenRequest] = []
        self.script: deque[Scripted] = deque()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A short poll interval keeps shutdown() quick at the end of each test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.stage}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, status: int, body: Any, **kwargs: Any) -> None:
        self.script.append(Scripted(status, body, **kwargs))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = parts.path.removeprefix(self.stage)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        seen = SeenRequest(
            method=handler.command,
            raw_path=parts.path,
            path=path,
            raw_query=parts.query,
            headers=headers,
            body=body,
            signature_ok=False,
        )
        seen.signature_ok = self._verify(seen)
        self.seen.append(seen)

        if "x-pn-signature" in headers and not seen.signature_ok:
            reply = Scripted(401, {"error": {"code": "invalid_signature", "message": "no"}})
        elif self.script:
            reply = self.script.popleft()
        else:
            reply = Scripted(200, {"ok": True})
        payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        raw = payload.encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)

    @staticmethod
    def _verify(seen: SeenRequest) -> bool:
        """Verify as the server will: from the decoded pairs API Gateway hands over."""
        timestamp = seen.headers.get("x-pn-timestamp", "")
        presented = seen.headers.get("x-pn-signature", "")
        if seen.headers.get("x-pn-key-id") != KEY_ID:
            return False
        canonical = signing.canonical_query_from_pairs(seen.decoded_query)
        if canonical != signing.canonical_query(seen.raw_query):
            return False
        # The SDK signs v2: the Idempotency-Key it sends is the seventh line.
        to_sign = signing.string_to_sign(
            timestamp,
            seen.method,
            seen.path,
            canonical,
            seen.body,
            version=2,
            idempotency_key=seen.headers.get("idempotency-key"),
        )
        return signing.signature_matches(SECRET, to_sign, presented, version=2)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            do_POST = do_DELETE = do_PUT = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class TickingClock:
    def __init__(self, start: int = 1767225600) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1
        return float(self.now)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(api: FakeApi, sleeps: list[float]) -> PointsNetClient:
    return PointsNetClient(
        api.base_url, KEY_ID, SECRET, clock=TickingClock(), sleep=sleeps.append, timeout=5
    )


def earned(points: int = 100) -> dict[str, Any]:
    return {
        "transaction": {"transaction_id": "tx-1", "type": "earn", "points": points},
        "balance": {"program": "STAR", "available": points, "pending": 0},
    }


def test_given_a_stage_prefixed_base_url_when_earning_then_the_server_verifies_the_signature(
    api: FakeApi, client: PointsNetClient
):
    # Given a base URL ending in the /Prod stage, and an API that posts the earn
    api.answer(201, earned())

    # When the SDK earns
    result = client.earn("m-1", 100, "order-1", description="Stay", pending=False)

    # Then /Prod is sent but only /v1/… is signed, with a fresh v4 Idempotency-Key
    (seen,) = api.seen
    assert seen.raw_path == "/Prod/v1/members/m-1/earn"
    assert seen.path == "/v1/members/m-1/earn"
    assert seen.signature_ok
    assert seen.body == (
        b'{"points":100,"reference":"order-1","description":"Stay","pending":false}'
    )
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("pointsnet-python/")
    assert uuid.UUID(seen.headers["idempotency-key"]).version == 4
    assert result == earned()


def test_given_a_query_with_reserved_characters_when_listing_then_signature_and_values_hold(
    api: FakeApi, client: PointsNetClient
):
    # Given a cursor full of reserved characters
    cursor = "a/b c+d=é&~"
    api.answer(200, {"items": [], "next_cursor": None})

    # When the SDK lists transactions with it
    client.list_transactions("m-1", limit=10, cursor=cursor)

    # Then the server decodes it back exactly and the signature verifies over the canonical
    # query; a GET carries no body, Idempotency-Key or Content-Type
    (seen,) = api.seen
    assert seen.signature_ok
    assert seen.method == "GET"
    assert seen.path == "/v1/members/m-1/transactions"
    assert seen.decoded_query == [("limit", "10"), ("cursor", cursor)]
    assert seen.body == b""
    assert "idempotency-key" not in seen.headers
    assert "content-type" not in seen.headers


def test_given_a_member_id_with_colon_and_at_when_calling_then_it_is_sent_and_signed_as_is(
    api: FakeApi, client: PointsNetClient
):
    # Given a member id using the allowed `:` and `@`
    api.answer(200, {"member_id": "guest:a@b.c"})

    # When the SDK gets the member
    client.get_member("guest:a@b.c")

    # Then the path carries them literally, and is signed so
    assert api.seen[0].path == "/v1/members/guest:a@b.c"
    assert api.seen[0].signature_ok


def test_given_a_first_503_when_posting_then_the_retry_reuses_the_key_and_re_signs(
    api: FakeApi, client: PointsNetClient, sleeps: list[float]
):
    # Given an API that answers 503, then 201
    api.answer(503, {"error": {"code": "internal_error", "message": "try again"}})
    api.answer(201, earned(40))

    # When the SDK burns
    result = client.burn("m-1", 40, "order-2")

    # Then one retry is made after a short backoff, with the same Idempotency-Key and body,
    # a fresh timestamp and a valid signature
    first, second = api.seen
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.headers["x-pn-timestamp"] != second.headers["x-pn-timestamp"]
    assert first.signature_ok and second.signature_ok
    assert first.body == second.body
    assert len(sleeps) == 1 and 0.025 <= sleeps[0] <= 0.05
    assert result == earned(40)


def test_given_request_in_progress_and_429_when_posting_then_both_are_retried(
    api: FakeApi, client: PointsNetClient, sleeps: list[float]
):
    # Given an API that answers 409 request_in_progress, then 429, then 201
    api.answer(409, {"error": {"code": "request_in_progress", "message": "busy"}})
    api.answer(429, {"error": {"code": "rate_limited", "message": "slow down"}})
    api.answer(201, earned())

    # When the SDK earns under the caller's idempotency key
    client.earn("m-1", 100, "order-1", idempotency_key="my-key")

    # Then the third try succeeds, every try under that key, the backoff growing exponentially
    assert [seen.headers["idempotency-key"] for seen in api.seen] == ["my-key"] * 3
    assert len(sleeps) == 2
    assert 0.025 <= sleeps[0] <= 0.05
    assert 0.05 <= sleeps[1] <= 0.1


def test_given_an_error_body_when_calling_then_points_net_error_carries_its_fields(
    api: FakeApi, client: PointsNetClient, sleeps: list[float]
):
    # Given an API that answers 409 insufficient_points with a request id and details
    api.answer(
        409,
        {
            "error": {
                "code": "insufficient_points",
                "message": "available 10, asked 40",
                "request_id": "req-123",
                "details": {"available": 10},
            }
        },
    )

    # When the SDK burns
    with pytest.raises(PointsNetError) as excinfo:
        client.burn("m-1", 40, "order-2")

    # Then PointsNetError carries the answer's fields, and the call is not retried
    error = excinfo.value
    assert (error.status, error.code, error.message) == (
        409,
        "insufficient_points",
        "available 10, asked 40",
    )
    assert error.request_id == "req-123"
    assert error.details == {"available": 10}
    assert len(api.seen) == 1
    assert sleeps == []


def test_given_a_validation_error_when_earning_then_details_list_the_fields(
    api: FakeApi, client: PointsNetClient
):
    # Given an API that answers 422 validation_error with details
    details = [{"field": "points", "message": "must be >= 1"}]
    api.answer(422, {"error": {"code": "validation_error", "message": "bad", "details": details}})

    # When the SDK earns
    with pytest.raises(PointsNetError) as excinfo:
        client.earn("m-1", 0, "order-1")

    # Then the details reach the caller untouched
    assert excinfo.value.code == "validation_error"
    assert excinfo.value.details == details


def test_given_503_on_every_attempt_when_calling_then_the_last_error_is_raised(
    api: FakeApi, sleeps: list[float]
):
    # Given a client with two retries and a server that keeps failing
    client = PointsNetClient(api.base_url, KEY_ID, SECRET, max_retries=2, sleep=sleeps.append)
    for _ in range(3):
        api.answer(503, {"error": {"code": "internal_error", "message": "down"}})

    # When the SDK gets a transaction
    with pytest.raises(PointsNetError) as excinfo:
        client.get_transaction("tx-1")

    # Then max_retries + 1 attempts are made in all, and the last 503 is raised
    assert excinfo.value.status == 503
    assert len(api.seen) == 3
    assert len(sleeps) == 2


def test_given_a_non_api_error_body_when_calling_then_the_code_names_the_status(
    api: FakeApi, client: PointsNetClient
):
    # Given a gateway's HTML 403, not the API's error shape
    api.answer(403, "<html>Forbidden</html>", content_type="text/html")

    # When the SDK gets a member
    with pytest.raises(PointsNetError) as excinfo:
        client.get_member("m-1")

    # Then the code is http_403 and the message is the body
    assert excinfo.value.code == "http_403"
    assert excinfo.value.message == "<html>Forbidden</html>"


def test_given_nothing_listening_when_calling_then_a_connection_error_follows_the_retries(
    sleeps: list[float],
):
    # Given a client for a closed port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PointsNetClient(f"http://127.0.0.1:{port}", KEY_ID, SECRET, sleep=sleeps.append)

    # When the SDK calls the health check
    with pytest.raises(PointsNetConnectionError) as excinfo:
        client.health()

    # Then it retries, and raises PointsNetConnectionError
    assert excinfo.value.code == "connection_error"
    assert excinfo.value.status == 0
    assert len(sleeps) == 3


def test_given_several_pages_when_iterating_transactions_then_cursors_are_followed(
    api: FakeApi, client: PointsNetClient
):
    # Given two pages of transactions
    api.answer(
        200,
        {"items": [{"transaction_id": "tx-3"}, {"transaction_id": "tx-2"}], "next_cursor": "c-2"},
    )
    api.answer(200, {"items": [{"transaction_id": "tx-1"}], "next_cursor": None})

    # When the SDK iterates over them
    ids = [item["transaction_id"] for item in client.iter_transactions("m-1", page_size=2)]

    # Then all items arrive and the cursor is passed on
    assert ids == ["tx-3", "tx-2", "tx-1"]
    assert [seen.decoded_query for seen in api.seen] == [
        [("limit", "2")],
        [("limit", "2"), ("cursor", "c-2")],
    ]


def test_given_a_reverse_without_options_when_posting_then_an_empty_object_is_sent(
    api: FakeApi, client: PointsNetClient
):
    # Given an API that posts a reversal
    api.answer(201, {"transaction_id": "tx-9", "type": "reversal"})

    # When the SDK reverses with no points or reason
    result = client.reverse("tx-1")

    # Then the body is `{}`, a valid JSON object, and is signed
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.body) == ("POST", "/v1/transactions/tx-1/reverse", b"{}")
    assert seen.signature_ok
    assert result["type"] == "reversal"


def test_given_a_partial_reverse_when_posting_then_points_and_reason_are_sent(
    api: FakeApi, client: PointsNetClient
):
    # Given an API that posts a reversal
    api.answer(201, {"transaction_id": "tx-9"})

    # When the SDK reverses some points with a reason
    client.reverse("tx-1", points=5, reason="refund")

    # Then both are in the body
    assert api.seen[0].json == {"points": 5, "reason": "refund"}


def test_given_health_when_called_then_it_is_sent_unsigned(api: FakeApi, client: PointsNetClient):
    # Given a healthy API
    api.answer(200, {"status": "ok"})

    # When the SDK calls the health check; Then it answers, and no signature headers were sent
    assert client.health() == {"status": "ok"}
    assert not any(name.startswith("x-pn-") for name in api.seen[0].headers)


def test_given_a_replayed_answer_when_requesting_then_the_response_says_so(
    api: FakeApi, client: PointsNetClient
):
    # Given an API that answers with Idempotent-Replayed: true
    api.answer(201, earned(), headers={"Idempotent-Replayed": "true"})

    # When the SDK sends a generic request
    response = client.request(
        "post", "/v1/members/m-1/earn", json_body={"points": 1, "reference": "r"}
    )

    # Then ApiResponse.replayed is True and the status and body are kept
    assert isinstance(response, ApiResponse)
    assert response.status == 201
    assert response.replayed
    assert response.body == earned()


def test_given_repeated_query_names_when_requesting_then_all_values_are_signed(
    api: FakeApi, client: PointsNetClient
):
    # Given a query as a list of pairs, and one as a mapping with a list value
    # When the SDK sends both
    client.request("GET", "/v1/things", query=[("b", "2"), ("a", "x y"), ("a", "1")])
    client.request("GET", "/v1/things", query={"a": ["1", "2"], "flag": True, "skip": None})

    # Then every value is sent in order, None left out, and both are signed
    first, second = api.seen
    assert first.raw_query == "b=2&a=x%20y&a=1"
    assert second.decoded_query == [("a", "1"), ("a", "2"), ("flag", "true")]
    assert first.signature_ok and second.signature_ok


def test_given_credentials_when_building_a_client_then_it_uses_them_without_showing_the_secret(
    api: FakeApi,
):
    # Given Credentials for the API
    credentials = Credentials(base_url=api.base_url + "/", key_id=KEY_ID, secret=SecretStr(SECRET))

    # When from_credentials builds a client and it calls
    client = PointsNetClient.from_credentials(credentials)
    client.get_member("m-1")

    # Then the call is signed with the key, and the client's repr does not show the secret
    assert api.seen[0].signature_ok
    assert SECRET not in repr(client)


@pytest.mark.parametrize("base_url", ["ftp://x", "127.0.0.1:3000", "http://x/Prod?a=1"])
def test_given_a_bad_base_url_when_building_a_client_then_it_is_refused(base_url: str):
    # Given a base URL that is not plain http(s)
    # When a client is built with it; Then the constructor raises ValueError
    with pytest.raises(ValueError, match="base_url"):
        PointsNetClient(base_url, KEY_ID, SECRET)


# -- admin endpoints ----------------------------------------------------------------------------

PARTNER = {
    "partner_id": "beancafe",
    "name": "Bean Cafe",
    "program": "BEAN",
    "point_value": "0.004",
    "currency": "USD",
    "created_at": "2026-01-01T00:00:00Z",
}
KEY = {
    "key_id": "pnk_1",
    "partner_id": "beancafe",
    "role": "partner",
    "status": "active",
    "created_at": "2026-01-01T00:00:00Z",
}


def test_given_a_decimal_point_value_when_creating_a_partner_then_it_is_sent_as_a_string(
    api: FakeApi, client: PointsNetClient
):
    # Given a point value of Decimal("4E-3")
    api.answer(201, PARTNER)

    # When the SDK creates the partner
    result = client.create_partner(
        "beancafe", "Bean Cafe", "BEAN", Decimal("4E-3"), idempotency_key="onboard-1"
    )

    # Then the body carries "0.004": money is never a JSON number
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.signature_ok) == ("POST", "/v1/partners", True)
    assert seen.json == {
        "partner_id": "beancafe",
        "name": "Bean Cafe",
        "program": "BEAN",
        "point_value": "0.004",
    }
    assert seen.headers["idempotency-key"] == "onboard-1"
    assert result == PARTNER


def test_given_a_currency_when_creating_a_partner_then_it_is_sent(
    api: FakeApi, client: PointsNetClient
):
    # Given an API that creates a EUR partner
    api.answer(201, PARTNER | {"currency": "EUR"})
    # When the SDK creates the partner with a currency and a decimal string
    client.create_partner("beancafe", "Bean Cafe", "BEAN", "0.004", currency="EUR")
    # Then both are sent as given
    assert api.seen[0].json["currency"] == "EUR"
    assert api.seen[0].json["point_value"] == "0.004"


def test_given_a_float_point_value_when_creating_a_partner_then_nothing_is_sent(
    api: FakeApi, client: PointsNetClient
):
    # Given a point value as a float
    # When the SDK creates the partner; Then it raises TypeError before sending anything
    with pytest.raises(TypeError, match="never a float"):
        client.create_partner("beancafe", "Bean Cafe", "BEAN", 0.004)  # type: ignore[arg-type]
    assert api.seen == []


def test_given_partners_when_listing_then_the_items_are_returned(
    api: FakeApi, client: PointsNetClient
):
    # Given an API with one partner
    api.answer(200, {"items": [PARTNER]})
    # When the SDK lists partners; Then it returns the items from a signed GET
    assert client.list_partners() == [PARTNER]
    assert (api.seen[0].method, api.seen[0].path) == ("GET", "/v1/partners")
    assert api.seen[0].signature_ok


def test_given_a_role_when_issuing_a_key_then_it_is_posted_with_an_idempotency_key(
    api: FakeApi, client: PointsNetClient
):
    # Given an API that issues a finance key
    api.answer(201, KEY | {"role": "finance", "secret": "pns_x"})

    # When the SDK issues a key of role finance
    issued = client.issue_key("network", "finance")

    # Then the role is posted under a generated Idempotency-Key, and the secret comes back
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.json) == (
        "POST",
        "/v1/partners/network/keys",
        {"role": "finance"},
    )
    assert uuid.UUID(seen.headers["idempotency-key"])
    assert issued["secret"] == "pns_x"


def test_given_a_replayed_issuance_when_issuing_then_the_conflict_is_raised_not_retried(
    api: FakeApi, client: PointsNetClient, sleeps: list[float]
):
    # Given an API that refuses to show a secret twice (409 conflict)
    api.answer(409, {"error": {"code": "conflict", "message": "key pnk_1 already issued"}})

    # When the SDK issues the key again under the same idempotency key
    with pytest.raises(PointsNetError) as excinfo:
        client.issue_key("beancafe", idempotency_key="rotate-1")

    # Then the conflict is raised at once, not retried
    assert (excinfo.value.status, excinfo.value.code) == (409, "conflict")
    assert len(api.seen) == 1 and sleeps == []


def test_given_keys_when_listing_and_revoking_then_get_and_delete_are_signed(
    api: FakeApi, client: PointsNetClient
):
    # Given a partner with one key, which the API then revokes
    api.answer(200, {"items": [KEY]})
    api.answer(200, KEY | {"status": "revoked", "revoked_at": "2026-01-02T00:00:00Z"})

    # When the SDK lists the keys, then revokes one
    listed = client.list_keys("beancafe")
    revoked = client.revoke_key("beancafe", "pnk_1")

    # Then a signed GET and a signed DELETE are sent, the DELETE without body or key
    listing, deletion = api.seen
    assert (listing.method, listing.path) == ("GET", "/v1/partners/beancafe/keys")
    assert (deletion.method, deletion.path) == ("DELETE", "/v1/partners/beancafe/keys/pnk_1")
    assert listing.signature_ok and deletion.signature_ok
    assert deletion.body == b"" and "idempotency-key" not in deletion.headers
    assert listed == [KEY]
    assert revoked["status"] == "revoked"
