"""Signed requests: every rejection of API.md's 401/403 rows, through the real handler."""

from __future__ import annotations

import time

import pytest

from pointsnet.auth.caller import Role
from tests.helpers import SignedCaller, partner_directory

EARN_PATH = "/v1/members/guest-1/earn"
EARN_BODY = {"points": 10, "reference": "r-1"}


def test_a_correctly_signed_request_is_accepted(starlodge: SignedCaller) -> None:
    # Given a partner key; When it signs an earn; Then the ledger posts it.
    reply = starlodge.call("POST", EARN_PATH, EARN_BODY)
    assert reply.status == 201, reply.body


@pytest.mark.parametrize("header", ["X-PN-Key-Id", "X-PN-Timestamp", "X-PN-Signature"])
def test_each_missing_signature_header_is_missing_credentials(
    starlodge: SignedCaller, header: str
) -> None:
    # Given a signed request; When one signature header is blanked; Then 401 missing_credentials.
    reply = starlodge.call("POST", EARN_PATH, EARN_BODY, headers={header: ""})
    assert (reply.status, reply.code) == (401, "missing_credentials")
    assert reply.body["error"]["request_id"]


def test_an_unsigned_request_is_missing_credentials(starlodge: SignedCaller) -> None:
    # Given the partner API; When a member is read without a signature
    reply = starlodge.call("GET", "/v1/members/guest-1", sign=False)
    # Then it is refused as missing credentials
    assert (reply.status, reply.code) == (401, "missing_credentials")


def test_an_unknown_key_id_is_unknown_key(starlodge: SignedCaller) -> None:
    # Given a request signed with the right secret; When it names a key id that does not exist
    reply = starlodge.call("GET", "/v1/members/guest-1", headers={"X-PN-Key-Id": "pnk_nosuchkey"})
    # Then 401 unknown_key
    assert (reply.status, reply.code) == (401, "unknown_key")


def test_a_revoked_key_is_unknown_key(starlodge: SignedCaller, partner_handler) -> None:  # type: ignore[no-untyped-def]
    # Given a second starlodge key that was revoked
    directory = partner_directory()
    spare = directory.issue_key("starlodge", Role.PARTNER)
    directory.revoke_key("starlodge", spare.key_id)
    # When it signs a request; Then it is refused as if it did not exist
    reply = SignedCaller(partner_handler, spare).call("GET", "/v1/members/guest-1")
    assert (reply.status, reply.code) == (401, "unknown_key")


def test_a_wrong_signature_is_invalid_signature(starlodge: SignedCaller) -> None:
    # Given starlodge's key; When a member is read with a signature that is not the request's
    reply = starlodge.call(
        "GET", "/v1/members/guest-1", headers={"X-PN-Signature": "v1=" + "0" * 64}
    )
    # Then it is refused as an invalid signature
    assert (reply.status, reply.code) == (401, "invalid_signature")


def test_a_body_changed_after_signing_is_invalid_signature(starlodge: SignedCaller) -> None:
    # Given a request signed over one body; When another body is sent under that signature
    signed = starlodge.call  # the helper signs what it sends, so sign one body and send another
    from pointsnet import signing

    now = int(time.time())
    headers = signing.sign_request(
        starlodge.key.secret, starlodge.key.key_id, "POST", EARN_PATH, "", b'{"points":1}', now
    )
    reply = signed(
        "POST", EARN_PATH, raw_body=b'{"points":1000,"reference":"r"}', headers=headers, sign=False
    )
    # Then 401 invalid_signature, and nothing is posted
    assert (reply.status, reply.code) == (401, "invalid_signature")
    assert starlodge.get("/v1/members/guest-1").status == 404


def test_a_query_changed_after_signing_is_invalid_signature(starlodge: SignedCaller) -> None:
    from pointsnet import signing

    # Given a history request signed for limit=5
    path = "/v1/members/guest-1/transactions"
    headers = signing.sign_request(
        starlodge.key.secret, starlodge.key.key_id, "GET", path, "limit=5", b"", int(time.time())
    )
    # When it is sent with limit=6
    reply = starlodge.call("GET", path, query={"limit": 6}, headers=headers, sign=False)
    # Then it is refused as an invalid signature
    assert (reply.status, reply.code) == (401, "invalid_signature")


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_301_seconds_off_is_stale(starlodge: SignedCaller, offset: int) -> None:
    # Given a clock 301 s early or late; When a request is signed with it; Then 401 stale_timestamp
    reply = starlodge.call("GET", "/v1/members/guest-1", timestamp=int(time.time()) + offset)
    assert (reply.status, reply.code) == (401, "stale_timestamp")


@pytest.mark.parametrize("offset", [-290, 290])
def test_a_timestamp_within_the_window_is_accepted(starlodge: SignedCaller, offset: int) -> None:
    # Given a member with points
    starlodge.earn("guest-1", 5)
    # When they are read with a timestamp 290 seconds behind or ahead
    reply = starlodge.call("GET", "/v1/members/guest-1", timestamp=int(time.time()) + offset)
    # Then the request is accepted
    assert reply.status == 200, reply.body


def test_a_non_integer_timestamp_is_stale(starlodge: SignedCaller) -> None:
    # Given starlodge's key; When a member is read with a timestamp of 17e8, not an integer
    reply = starlodge.call("GET", "/v1/members/guest-1", headers={"X-PN-Timestamp": "17e8"})
    # Then it is refused as a stale timestamp
    assert (reply.status, reply.code) == (401, "stale_timestamp")


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_a_key_of_another_role_is_forbidden_on_partner_routes(
    network,
    partner_handler,
    role: str,  # type: ignore[no-untyped-def]
) -> None:
    # Given a valid finance or admin key; When it calls a partner endpoint; Then 403 forbidden
    key = network.finance if role == "finance" else network.admin
    reply = SignedCaller(partner_handler, key).call("POST", EARN_PATH, EARN_BODY)
    assert (reply.status, reply.code) == (403, "forbidden")
    # And the message names the key with its article: "a finance key", "an admin key"
    article = "an" if role == "admin" else "a"
    assert reply.body["error"]["message"] == f"{article} {role} key may not call POST {EARN_PATH}"


def test_health_and_openapi_need_no_signature(starlodge: SignedCaller) -> None:
    # Given the partner API
    # When the health check and the OpenAPI document are asked for without a signature
    health = starlodge.call("GET", "/v1/health", sign=False)
    document = starlodge.call("GET", "/v1/openapi.json", sign=False)
    # Then both are answered, the document with the partner routes
    assert (health.status, health.body) == (200, {"status": "ok"})
    assert document.status == 200
    assert "/v1/members/{member_id}/earn" in document.body["paths"]
