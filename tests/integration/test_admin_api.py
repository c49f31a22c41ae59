"""The admin API through the real admin handler: partners, keys, and their idempotency."""

from __future__ import annotations

from typing import Any

import pytest

from pointsnet.api.admin import create_admin_app
from pointsnet.errors import StoreUnavailable
from pointsnet.partners.models import IssuedKey
from pointsnet.partners.service import PartnerDirectory
from pointsnet.settings import get_settings
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.key_secrets import KeySecrets
from pointsnet.wiring import default_key_resolver
from tests.helpers import DemoNetwork, LambdaContextStub, SignedCaller

CAFE = {
    "partner_id": "beancafe",
    "name": "Bean Cafe",
    "program": "BEAN",
    "point_value": "0.004",
}


def issued(reply_body: dict[str, Any]) -> IssuedKey:
    return IssuedKey.model_validate(reply_body)


# partners


def test_an_admin_creates_a_partner_and_lists_it(admin: SignedCaller) -> None:
    # Given the network operator; When it adds a partner
    reply = admin.call("POST", "/v1/partners", CAFE)
    # Then 201 with the partner, its point value a decimal string and USD by default
    assert reply.status == 201, reply.body
    shown = CAFE | {"currency": "USD", "created_at": reply.body["created_at"]}
    assert {name: reply.body.get(name) for name in shown} == shown
    # And it accepts v1 and v2 signatures until an admin makes it v2-only
    assert reply.body["signing"] == {"minimum_version": 1}
    assert "Idempotent-Replayed" not in reply.headers
    # And it is listed with the others
    listed = admin.get("/v1/partners")
    assert listed.status == 200
    assert [item["partner_id"] for item in listed.body["items"]] == [
        "beancafe",
        "network",
        "rideco",
        "starlodge",
    ]
    assert listed.body["items"][0] == reply.body


def test_a_partner_in_another_currency_keeps_it(admin: SignedCaller) -> None:
    # Given the network operator; When it adds a partner that settles in EUR
    reply = admin.call("POST", "/v1/partners", CAFE | {"currency": "EUR"})
    # Then the partner is created with EUR as its currency
    assert (reply.status, reply.body["currency"]) == (201, "EUR")


def test_a_repeated_partner_creation_replays_the_first_response(admin: SignedCaller) -> None:
    # Given a partner created with key K
    first = admin.call("POST", "/v1/partners", CAFE, idempotency_key="onboard-cafe")
    # When the same request is sent again with K
    again = admin.call("POST", "/v1/partners", CAFE, idempotency_key="onboard-cafe")
    # Then the first response comes back, marked as a replay, and one partner exists
    assert (again.status, again.body) == (201, first.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    partners = [item["partner_id"] for item in admin.get("/v1/partners").body["items"]]
    assert partners.count("beancafe") == 1


def test_an_idempotency_key_reused_for_another_partner_is_refused(admin: SignedCaller) -> None:
    # Given key K used to create beancafe
    admin.call("POST", "/v1/partners", CAFE, idempotency_key="K")
    # When K is sent for another partner, or to issue a key
    other = admin.call(
        "POST",
        "/v1/partners",
        CAFE | {"partner_id": "teashop", "program": "TEA"},
        idempotency_key="K",
    )
    key = admin.call("POST", "/v1/partners/beancafe/keys", {}, idempotency_key="K")
    # Then both are 422 idempotency_key_reused, and neither was created
    assert (other.status, other.code) == (422, "idempotency_key_reused")
    assert (key.status, key.code) == (422, "idempotency_key_reused")
    partners = [item["partner_id"] for item in admin.get("/v1/partners").body["items"]]
    assert "teashop" not in partners
    assert admin.get("/v1/partners/beancafe/keys").body["items"] == []


@pytest.mark.parametrize(
    "clash",
    [{"partner_id": "starlodge"}, {"program": "STAR"}],
    ids=["partner id taken", "program taken"],
)
def test_a_partner_id_or_program_already_taken_is_a_conflict(
    admin: SignedCaller, clash: dict[str, str]
) -> None:
    # Given the demo network, where starlodge runs STAR
    # When the operator adds a partner with starlodge's id or with STAR as its program
    reply = admin.call("POST", "/v1/partners", CAFE | clash)
    # Then it is a conflict
    assert (reply.status, reply.code) == (409, "conflict")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"point_value": 0.004}, "point_value"),
        ({"point_value": "0"}, "point_value"),
        ({"point_value": "-1"}, "point_value"),
        ({"point_value": "1e-3"}, "point_value"),
        ({"program": "bean"}, "program"),
        ({"partner_id": "Bean Cafe"}, "partner_id"),
        ({"currency": "usd"}, "currency"),
        ({"name": ""}, "name"),
        ({"colour": "brown"}, "colour"),
    ],
)
def test_an_invalid_partner_is_a_validation_error(
    admin: SignedCaller, change: dict[str, Any], field: str
) -> None:
    # Given a partner body with one bad field (a float point value among them: money is a string)
    # When the operator adds it
    reply = admin.call("POST", "/v1/partners", CAFE | change)
    # Then 422 validation_error naming that field
    assert (reply.status, reply.code) == (422, "validation_error")
    assert any(field in detail["field"] for detail in reply.body["error"]["details"])


def test_a_partner_without_a_program_is_a_validation_error(admin: SignedCaller) -> None:
    # Given a partner body with no program
    body = {key: value for key, value in CAFE.items() if key != "program"}
    # When the operator adds it
    reply = admin.call("POST", "/v1/partners", body)
    # Then it is a validation error
    assert (reply.status, reply.code) == (422, "validation_error")


def test_a_post_without_an_idempotency_key_is_refused(admin: SignedCaller) -> None:
    # Given the network operator; When it adds a partner with no Idempotency-Key
    reply = admin.call("POST", "/v1/partners", CAFE, idempotency_key=None)
    # Then it is refused for the missing key
    assert (reply.status, reply.code) == (400, "missing_idempotency_key")


@pytest.mark.parametrize("role", ["partner", "finance"])
def test_other_roles_may_not_call_the_admin_api(
    network: DemoNetwork,
    admin_handler,  # type: ignore[no-untyped-def]
    role: str,
) -> None:
    # Given a valid partner or finance key; When it calls admin endpoints; Then 403 forbidden
    caller = SignedCaller(
        admin_handler, network.starlodge if role == "partner" else network.finance
    )
    replies = [
        caller.call("POST", "/v1/partners", CAFE),
        caller.get("/v1/partners"),
        caller.call("POST", "/v1/partners/starlodge/keys", {}),
        caller.get("/v1/partners/starlodge/keys"),
        caller.call("DELETE", f"/v1/partners/starlodge/keys/{network.starlodge.key_id}"),
    ]
    assert {(reply.status, reply.code) for reply in replies} == {(403, "forbidden")}


def test_an_unsigned_admin_request_is_missing_credentials(admin: SignedCaller) -> None:
    # Given the admin API; When partners are listed without a signature
    reply = admin.call("GET", "/v1/partners", sign=False)
    # Then it is refused as missing credentials
    assert (reply.status, reply.code) == (401, "missing_credentials")


# keys


def test_an_issued_key_carries_its_secret_once_and_signs_partner_requests(
    admin: SignedCaller,
    partner_handler,  # type: ignore[no-untyped-def]
) -> None:
    # Given a new partner
    admin.call("POST", "/v1/partners", CAFE)
    # When the admin issues it a key (role partner by default)
    reply = admin.call("POST", "/v1/partners/beancafe/keys", {})
    # Then 201 with the key id, the secret, the role and the partner
    assert reply.status == 201, reply.body
    assert reply.body["role"] == "partner"
    assert reply.body["partner_id"] == "beancafe"
    assert reply.body["status"] == "active"
    assert reply.body["key_id"].startswith("pnk_")
    assert reply.body["secret"].startswith("pns_")
    # And the partner can sign with it at once
    cafe = SignedCaller(partner_handler, issued(reply.body))
    earned = cafe.earn("regular-1", 12)
    assert earned.status == 201, earned.body
    assert earned.body["transaction"]["program"] == "BEAN"
    # And the listing shows the key, never its secret
    listed = admin.get("/v1/partners/beancafe/keys")
    assert listed.status == 200
    shown = {key: value for key, value in reply.body.items() if key != "secret"}
    assert listed.body["items"] == [shown | {"revoked_at": None}]
    assert reply.body["secret"] not in str(listed.body)


@pytest.mark.parametrize("role", ["partner", "finance", "admin"])
def test_keys_of_each_role_can_be_issued(admin: SignedCaller, role: str) -> None:
    # Given the network operator; When it issues a key of a role for the network
    reply = admin.call("POST", "/v1/partners/network/keys", {"role": role})
    # Then the key is issued with that role
    assert (reply.status, reply.body["role"]) == (201, role)


def test_a_key_of_an_unknown_role_is_a_validation_error(admin: SignedCaller) -> None:
    # Given the network operator; When it issues starlodge a key of a role that does not exist
    reply = admin.call("POST", "/v1/partners/starlodge/keys", {"role": "root"})
    # Then it is a validation error
    assert (reply.status, reply.code) == (422, "validation_error")


def test_a_key_for_an_unknown_partner_is_not_found(admin: SignedCaller) -> None:
    # Given no partner named nobody
    # When the operator issues it a key and lists its keys
    issue = admin.call("POST", "/v1/partners/nobody/keys", {})
    listing = admin.get("/v1/partners/nobody/keys")
    # Then both are not found
    assert (issue.status, issue.code) == (404, "not_found")
    assert (listing.status, listing.code) == (404, "not_found")


def test_a_repeated_key_issuance_never_shows_the_secret_again(admin: SignedCaller) -> None:
    # Given a key issued with Idempotency-Key K
    first = admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="rotate-1")
    # When the same request is sent again with K
    again = admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="rotate-1")
    # Then it is a 409 conflict that names the key, and carries no secret
    assert first.status == 201
    assert (again.status, again.code) == (409, "conflict")
    assert first.body["key_id"] in again.body["error"]["message"]
    assert first.body["secret"] not in str(again.body)
    # And no second key was issued
    key_ids = [item["key_id"] for item in admin.get("/v1/partners/starlodge/keys").body["items"]]
    assert key_ids.count(first.body["key_id"]) == 1
    assert len(key_ids) == 2  # the seeded key and this one


def test_a_key_idempotency_key_reused_for_another_role_is_refused(admin: SignedCaller) -> None:
    # Given a finance key issued with Idempotency-Key K-2
    admin.call("POST", "/v1/partners/network/keys", {"role": "finance"}, idempotency_key="K-2")
    # When an admin key is asked for with the same Idempotency-Key
    reply = admin.call(
        "POST", "/v1/partners/network/keys", {"role": "admin"}, idempotency_key="K-2"
    )
    # Then it is refused as a reused key, not answered with the finance key
    assert (reply.status, reply.code) == (422, "idempotency_key_reused")


def test_revoking_a_key_answers_it_revoked_and_the_key_is_refused(
    admin: SignedCaller,
    network: DemoNetwork,
    partner_handler,  # type: ignore[no-untyped-def]
) -> None:
    # Given a second starlodge key
    spare = issued(admin.call("POST", "/v1/partners/starlodge/keys", {}).body)
    # When the admin revokes it
    reply = admin.call("DELETE", f"/v1/partners/starlodge/keys/{spare.key_id}")
    # Then 200 with the key, revoked
    assert reply.status == 200, reply.body
    assert reply.body["key_id"] == spare.key_id
    assert reply.body["status"] == "revoked"
    assert reply.body["revoked_at"]
    assert "secret" not in reply.body
    # And the listing says so, and the key is refused while the other key still works
    statuses = {
        item["key_id"]: item["status"]
        for item in admin.get("/v1/partners/starlodge/keys").body["items"]
    }
    assert statuses == {network.starlodge.key_id: "active", spare.key_id: "revoked"}
    refused = SignedCaller(partner_handler, spare).get("/v1/members/guest-1")
    assert (refused.status, refused.code) == (401, "unknown_key")
    still = SignedCaller(partner_handler, network.starlodge).earn("guest-1", 1)
    assert still.status == 201


def test_revoking_twice_answers_the_same_revoked_key(admin: SignedCaller) -> None:
    # Given a spare key issued to starlodge, then revoked
    spare = issued(admin.call("POST", "/v1/partners/starlodge/keys", {}).body)
    first = admin.call("DELETE", f"/v1/partners/starlodge/keys/{spare.key_id}")
    # When it is revoked again
    again = admin.call("DELETE", f"/v1/partners/starlodge/keys/{spare.key_id}")
    # Then the answer is the same revoked key
    assert (again.status, again.body) == (200, first.body)


def test_a_key_is_revoked_only_under_its_own_partner(
    admin: SignedCaller, network: DemoNetwork
) -> None:
    # Given rideco's key; When it is revoked under starlodge's path, or does not exist at all
    wrong_partner = admin.call("DELETE", f"/v1/partners/starlodge/keys/{network.rideco.key_id}")
    unknown = admin.call("DELETE", "/v1/partners/starlodge/keys/pnk_nosuchkey")
    # Then 404 not_found, and rideco's key stays active
    assert (wrong_partner.status, wrong_partner.code) == (404, "not_found")
    assert (unknown.status, unknown.code) == (404, "not_found")
    statuses = [item["status"] for item in admin.get("/v1/partners/rideco/keys").body["items"]]
    assert statuses == ["active"]


# a retry after a crash


class FailingSecrets(KeySecrets):
    """Secrets Manager that fails once, before or after it stored the secret."""

    def __init__(self, prefix: str, *, after_storing: bool) -> None:
        super().__init__(prefix)
        self.after_storing = after_storing
        self.failed = False

    def create(self, key_id: str, secret: str, description: str) -> None:
        if self.failed:
            return super().create(key_id, secret, description)
        self.failed = True
        if self.after_storing:
            super().create(key_id, secret, description)
        raise StoreUnavailable("connection reset")


def admin_through(secrets: KeySecrets, network: DemoNetwork) -> SignedCaller:
    settings = get_settings()
    directory = PartnerDirectory(DirectoryStore(settings.directory_table), secrets)
    app = create_admin_app(directory=lambda: directory, keys=default_key_resolver)
    return SignedCaller(lambda event, _: app.resolve(event, LambdaContextStub()), network.admin)


def test_a_retry_after_a_crash_before_the_secret_was_stored_issues_the_key(
    network: DemoNetwork,
    partner_handler,  # type: ignore[no-untyped-def]
) -> None:
    # Given an admin function that crashes after recording the key but before storing its secret
    admin = admin_through(
        FailingSecrets(get_settings().key_secret_prefix, after_storing=False), network
    )
    crashed = admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="K-3")
    assert (crashed.status, crashed.code) == (500, "internal_error")
    # When the operator retries with the same Idempotency-Key
    retry = admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="K-3")
    # Then the retry is the first answer with a secret, and that key works
    assert retry.status == 201, retry.body
    assert "Idempotent-Replayed" not in retry.headers
    works = SignedCaller(partner_handler, issued(retry.body)).get("/v1/members/guest-1")
    assert (works.status, works.code) == (404, "not_found")
    # And there is one new key, not two
    assert len(admin.get("/v1/partners/starlodge/keys").body["items"]) == 2


def test_a_retry_after_the_secret_was_stored_is_a_conflict(network: DemoNetwork) -> None:
    # Given an admin function whose answer is lost after the secret was stored
    admin = admin_through(
        FailingSecrets(get_settings().key_secret_prefix, after_storing=True), network
    )
    lost = admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="K-4")
    assert lost.status == 500
    # When the operator retries; Then 409 conflict: the secret may have been shown already
    retry = admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="K-4")
    assert (retry.status, retry.code) == (409, "conflict")
    assert len(admin.get("/v1/partners/starlodge/keys").body["items"]) == 2


def test_a_retry_for_a_key_revoked_meanwhile_is_a_conflict(network: DemoNetwork) -> None:
    # Given a key whose issuance crashed before its secret was stored, then revoked
    admin = admin_through(
        FailingSecrets(get_settings().key_secret_prefix, after_storing=False), network
    )
    admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="K-5")
    half_issued = next(
        item
        for item in admin.get("/v1/partners/starlodge/keys").body["items"]
        if item["key_id"] != network.starlodge.key_id
    )
    admin.call("DELETE", f"/v1/partners/starlodge/keys/{half_issued['key_id']}")
    # When the operator retries; Then it is refused rather than bringing the key back to life
    retry = admin.call("POST", "/v1/partners/starlodge/keys", {}, idempotency_key="K-5")
    assert (retry.status, retry.code) == (409, "conflict")
