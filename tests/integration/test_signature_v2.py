"""Signature v2 and the v1 replay guard (API.md, "Signature v2: the Idempotency-Key is signed too").

A captured POST is re-sent exactly as it was signed, with only its Idempotency-Key changed: a
v2 signature no longer matches; a v1 signature is refused because its posting remembered it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from pointsnet import signing
from pointsnet.settings import get_settings
from pointsnet.wiring import clear_caches
from tests.helpers import Reply, SignedCaller
from tests.integration.test_network import linked, quote, rates  # noqa: F401 (fixtures)

EARN_PATH = "/v1/members/guest-1/earn"
BURN_PATH = "/v1/members/guest-1/burn"


@dataclass(frozen=True)
class Captured:
    """A signed POST as it went over the wire: what an eavesdropper could send again."""

    path: str
    body: bytes
    signature_headers: dict[str, str]
    idempotency_key: str

    def send(self, caller: SignedCaller, idempotency_key: str | None = None) -> Reply:
        return caller.call(
            "POST",
            self.path,
            raw_body=self.body,
            headers=self.signature_headers
            | {"Idempotency-Key": idempotency_key or self.idempotency_key},
            idempotency_key=None,
            sign=False,
        )


def capture(
    caller: SignedCaller, path: str, body: dict[str, Any], idempotency_key: str, version: int
) -> Captured:
    raw = json.dumps(body).encode()
    headers = signing.sign_request(
        caller.key.secret,
        caller.key.key_id,
        "POST",
        path,
        "",
        raw,
        int(time.time()),
        idempotency_key=idempotency_key,
        version=version,
    )
    return Captured(path, raw, headers, idempotency_key)


def available(caller: SignedCaller, member_id: str = "guest-1") -> int:
    return int(caller.get(f"/v1/members/{member_id}").body["balance"]["available"])


def history(caller: SignedCaller, member_id: str = "guest-1") -> list[str]:
    items = caller.get(f"/v1/members/{member_id}/transactions").body["items"]
    return [item["transaction_id"] for item in items]


def remembered_signatures() -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(get_settings().ledger_table)
    items = table.scan()["Items"]
    return [item for item in items if str(item["pk"]).startswith("SIGV1#")]


# a captured v1 POST sent again under a new key


def test_a_captured_v1_earn_sent_again_with_a_new_key_is_refused_and_posts_nothing(
    starlodge: SignedCaller,
) -> None:
    # Given a v1-signed earn that posted
    earn = capture(starlodge, EARN_PATH, {"points": 100, "reference": "o-1"}, "k-1", version=1)
    assert earn.send(starlodge).status == 201
    before = (available(starlodge), history(starlodge))
    # When the same bytes and signature are sent again under a fresh Idempotency-Key
    replay = earn.send(starlodge, idempotency_key="k-attacker")
    # Then 401 invalid_signature, and the balance and history are as they were
    assert (replay.status, replay.code) == (401, "invalid_signature"), replay.body
    assert (available(starlodge), history(starlodge)) == before
    assert before[0] == 100
    assert len(before[1]) == 1


def test_a_captured_v1_burn_sent_again_with_a_new_key_is_refused_and_posts_nothing(
    starlodge: SignedCaller,
) -> None:
    # Given a member with 500 points and a v1-signed burn of 100 that posted
    assert starlodge.earn("guest-1", 500).status == 201
    burn = capture(starlodge, BURN_PATH, {"points": 100, "reference": "o-2"}, "b-1", version=1)
    assert burn.send(starlodge).status == 201
    before = (available(starlodge), history(starlodge))
    # When it is sent again, twice, each time under another key
    for key in ("b-2", "b-3"):
        replay = burn.send(starlodge, idempotency_key=key)
        # Then each is refused and nothing more is burnt
        assert (replay.status, replay.code) == (401, "invalid_signature"), replay.body
    assert (available(starlodge), history(starlodge)) == before
    assert before[0] == 400


@pytest.mark.parametrize("version", [1, 2])
def test_a_retry_with_the_same_key_replays_the_first_answer(
    starlodge: SignedCaller, version: int
) -> None:
    # Given an earn that posted
    earn = capture(starlodge, EARN_PATH, {"points": 7, "reference": "o-3"}, "same", version)
    first = earn.send(starlodge)
    assert first.status == 201
    # When the very same request (signature and key) is sent again
    again = earn.send(starlodge)
    # Then it is an ordinary idempotent replay: the first answer, marked, nothing posted
    assert (again.status, again.body) == (201, first.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert available(starlodge) == 7


@pytest.mark.parametrize("path", [EARN_PATH, BURN_PATH])
def test_a_captured_v2_post_sent_with_a_new_key_fails_the_signature(
    starlodge: SignedCaller, path: str
) -> None:
    # Given a member with points and a v2-signed earn or burn that posted
    assert starlodge.earn("guest-1", 500).status == 201
    captured = capture(starlodge, path, {"points": 50, "reference": "o-4"}, "v2-key", version=2)
    assert captured.send(starlodge).status == 201
    before = (available(starlodge), history(starlodge))
    # When it is sent again under another key
    replay = captured.send(starlodge, idempotency_key="v2-other")
    # Then the signature does not match the request, and nothing is posted
    assert (replay.status, replay.code) == (401, "invalid_signature"), replay.body
    assert (available(starlodge), history(starlodge)) == before


def test_a_v2_signature_over_no_key_does_not_cover_a_key_added_later(
    starlodge: SignedCaller,
) -> None:
    # Given a v2 POST signed without an Idempotency-Key (the seventh line empty)
    captured = capture(starlodge, EARN_PATH, {"points": 5, "reference": "o-5"}, "", version=2)
    # When it is sent with a key added; Then the signature does not match
    reply = captured.send(starlodge, idempotency_key="added-later")
    assert (reply.status, reply.code) == (401, "invalid_signature")


# what the v1 memory is, and what writes it


def test_a_v1_posting_remembers_a_digest_of_its_signature_until_just_past_its_window(
    starlodge: SignedCaller,
) -> None:
    # Given a v1-signed earn that posted
    earn = capture(starlodge, EARN_PATH, {"points": 1, "reference": "o-6"}, "mem-1", version=1)
    reply = earn.send(starlodge)
    assert reply.status == 201
    # When the signatures remembered are read
    # Then one item remembers it, keyed by the signature's SHA-256, never the signature
    signature = earn.signature_headers[signing.SIGNATURE_HEADER]
    (item,) = remembered_signatures()
    digest = str(item["pk"]).removeprefix("SIGV1#")
    assert digest == hashlib.sha256(signature.encode()).hexdigest()
    assert signature.removeprefix("v1=") not in json.dumps(item, default=str)
    # And it names the transaction it authorised, and expires by TTL a minute past the window
    assert item["transaction_id"] == reply.body["transaction"]["transaction_id"]
    timestamp = int(earn.signature_headers[signing.TIMESTAMP_HEADER])
    assert int(item["expires_ttl"]) == timestamp + signing.MAX_CLOCK_SKEW_SECONDS + 60


def test_v2_postings_and_v1_reads_write_nothing_extra(starlodge: SignedCaller) -> None:
    # Given v2-signed posts and a v1-signed read
    assert starlodge.earn("guest-1", 10).status == 201
    assert starlodge.burn("guest-1", 3).status == 201
    v1 = SignedCaller(starlodge.handler, starlodge.key, signature_version=1)
    assert v1.get("/v1/members/guest-1").status == 200
    # When the signatures remembered are read
    # Then no signature is remembered
    assert remembered_signatures() == []


def test_a_refused_v1_post_remembers_nothing(starlodge: SignedCaller) -> None:
    # Given a v1 burn refused for want of points
    burn = capture(starlodge, BURN_PATH, {"points": 10, "reference": "o-7"}, "r-1", version=1)
    refused = burn.send(starlodge)
    assert (refused.status, refused.code) == (409, "insufficient_points")
    # When the signatures remembered are read
    # Then nothing was written, its signature included (see README, "Known limits")
    assert remembered_signatures() == []


# every POST that posts to the ledger


def test_captured_v1_reverse_capture_and_void_sent_again_with_new_keys_are_refused(
    starlodge: SignedCaller,
) -> None:
    # Given an earn and two holds
    earned = starlodge.earn("guest-1", 100).body["transaction"]["transaction_id"]
    held = [
        starlodge.earn("guest-1", 30, reference=f"h-{n}", pending=True).body["transaction"][
            "transaction_id"
        ]
        for n in range(2)
    ]
    # And a v1 partial reversal, a v1 capture and a v1 void that posted
    posted = [
        capture(starlodge, f"/v1/transactions/{earned}/reverse", {"points": 10}, "rv", 1),
        capture(starlodge, f"/v1/transactions/{held[0]}/capture", {"points": 10}, "cp", 1),
        capture(starlodge, f"/v1/transactions/{held[1]}/void", {}, "vd", 1),
    ]
    for request in posted:
        assert request.send(starlodge).status == 201, request.path
    before = (starlodge.get("/v1/members/guest-1").body["balance"], history(starlodge))
    # When each is sent again under a new key
    for request in posted:
        replay = request.send(starlodge, idempotency_key=f"{request.idempotency_key}-again")
        # Then it is refused 401 invalid_signature
        assert (replay.status, replay.code) == (401, "invalid_signature"), request.path
    # And nothing moved
    assert (starlodge.get("/v1/members/guest-1").body["balance"], history(starlodge)) == before


def test_a_captured_v1_exchange_sent_again_with_a_new_key_is_refused(
    starlodge: SignedCaller,
    rideco: SignedCaller,
    linked: str,  # noqa: F811
    rates: None,  # noqa: F811
) -> None:
    # Given guest-1 with 1000 STAR, linked to rideco's rider-1, and a v1 exchange that posted
    assert starlodge.earn("guest-1", 1000).status == 201
    quote_id = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    exchange = capture(starlodge, "/v1/exchanges", {"quote_id": quote_id}, "ex-1", version=1)
    assert exchange.send(starlodge).status == 201
    before = (available(starlodge), available(rideco, "rider-1"))
    # When it is sent again under a new key
    replay = exchange.send(starlodge, idempotency_key="ex-2")
    # Then it is refused 401 invalid_signature and neither side moved
    assert (replay.status, replay.code) == (401, "invalid_signature"), replay.body
    assert (available(starlodge), available(rideco, "rider-1")) == before == (960, 10)


# v2-only partners


def test_an_admin_makes_a_partner_v2_only_and_its_v1_requests_are_refused(
    starlodge: SignedCaller, admin: SignedCaller
) -> None:
    v1 = SignedCaller(starlodge.handler, starlodge.key, signature_version=1)
    # Given a partner whose v1 and v2 requests are both accepted
    assert v1.earn("guest-1", 10).status == 201
    # When an admin makes it v2-only
    reply = admin.call("PUT", "/v1/partners/starlodge/signing", {"minimum_version": 2})
    # Then 200 with the partner, showing its signing minimum
    assert reply.status == 200, reply.body
    assert reply.body["partner_id"] == "starlodge"
    assert reply.body["signing"] == {"minimum_version": 2}
    listed = {item["partner_id"]: item for item in admin.get("/v1/partners").body["items"]}
    assert listed["starlodge"]["signing"] == {"minimum_version": 2}
    # And once the function's key cache has turned over (at most KEY_CACHE_SECONDS)
    clear_caches()
    # Then its v1 requests, reads included, are refused and post nothing
    for refused in (v1.earn("guest-1", 10), v1.get("/v1/members/guest-1")):
        assert (refused.status, refused.code) == (401, "invalid_signature"), refused.body
    # And v2 requests still work
    assert starlodge.get("/v1/members/guest-1").body["balance"]["available"] == 10
    assert starlodge.earn("guest-1", 1).status == 201
    # When the admin sets it back to 1; Then v1 is accepted again
    back = admin.call("PUT", "/v1/partners/starlodge/signing", {"minimum_version": 1})
    assert (back.status, back.body["signing"]) == (200, {"minimum_version": 1})
    clear_caches()
    assert v1.earn("guest-1", 1).status == 201


def test_a_v2_only_partner_leaves_other_partners_on_v1(
    starlodge: SignedCaller, rideco: SignedCaller, admin: SignedCaller
) -> None:
    # Given starlodge made v2-only by the operator
    assert admin.call("PUT", "/v1/partners/starlodge/signing", {"minimum_version": 2}).status == 200
    clear_caches()
    # When rideco earns with a v1 signature
    rideco_v1 = SignedCaller(rideco.handler, rideco.key, signature_version=1)
    # Then rideco's earn posts: its minimum is still v1
    assert rideco_v1.earn("rider-1", 5).status == 201


@pytest.mark.parametrize(
    "body",
    [
        {"minimum_version": "2"},
        {"minimum_version": True},
        {"minimum_version": 2.0},
        {"minimum_version": 3},
        {"minimum_version": 0},
        {},
        {"minimum_version": 2, "x": 1},
    ],
)
def test_the_signing_minimum_is_a_strict_integer_1_or_2(
    admin: SignedCaller, body: dict[str, Any]
) -> None:
    # Given a signing minimum that is not the integer 1 or 2, or a body with more
    # When the operator sets it for starlodge
    reply = admin.call("PUT", "/v1/partners/starlodge/signing", body)
    # Then it is a validation error and the partner's minimum stays v1
    assert (reply.status, reply.code) == (422, "validation_error"), reply.body
    assert admin.get("/v1/partners").body["items"][-1]["signing"] == {"minimum_version": 1}


def test_the_signing_minimum_of_an_unknown_partner_is_not_found(admin: SignedCaller) -> None:
    # Given no partner nobody; When the operator makes it v2-only
    reply = admin.call("PUT", "/v1/partners/nobody/signing", {"minimum_version": 2})
    # Then it is not found
    assert (reply.status, reply.code) == (404, "not_found")


def test_a_partner_key_may_not_set_the_signing_minimum(
    starlodge: SignedCaller, admin_handler: Any
) -> None:
    # Given starlodge's partner key on the admin API
    caller = SignedCaller(admin_handler, starlodge.key)
    # When starlodge sets its own signing minimum
    reply = caller.call("PUT", "/v1/partners/starlodge/signing", {"minimum_version": 1})
    # Then it is forbidden
    assert (reply.status, reply.code) == (403, "forbidden")
