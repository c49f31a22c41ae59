"""Strict types at the boundary: a JSON value of the wrong type is refused, never coerced.

`"pending": "yes"` and `"pending": 1` used to turn an earn into a hold; `"points": "100"` used
to earn 100. Every request body field is now parsed strictly: each case below is one field of
one body given a value of another JSON type, and is answered 422 validation_error naming that
field, with nothing written.
"""

from __future__ import annotations

from typing import Any

import pytest

from pointsnet.local.template import functions, load_handler
from tests.helpers import STACK, TEMPLATE, DemoNetwork, Reply, SignedCaller

TXN = "txn_" + "a" * 26
STL = "stl_20260101_20260101"

# (function, method, path, a valid body, the field, a value of the wrong JSON type)
PARTNER_CASES: list[tuple[str, str, dict[str, Any], str, Any]] = [
    ("POST", "/v1/members/guest-1/earn", {"points": 10, "reference": "r"}, "pending", "yes"),
    ("POST", "/v1/members/guest-1/earn", {"points": 10, "reference": "r"}, "pending", 1),
    ("POST", "/v1/members/guest-1/earn", {"points": 10, "reference": "r"}, "pending", 0),
    ("POST", "/v1/members/guest-1/earn", {"points": 10, "reference": "r"}, "pending", "true"),
    ("POST", "/v1/members/guest-1/earn", {"points": 10, "reference": "r"}, "pending", None),
    ("POST", "/v1/members/guest-1/earn", {"reference": "r"}, "points", "100"),
    ("POST", "/v1/members/guest-1/earn", {"reference": "r"}, "points", 100.0),
    ("POST", "/v1/members/guest-1/earn", {"reference": "r"}, "points", True),
    ("POST", "/v1/members/guest-1/earn", {"points": 10}, "reference", 12345),
    ("POST", "/v1/members/guest-1/earn", {"points": 10, "reference": "r"}, "program", 1),
    ("POST", "/v1/members/guest-1/earn", {"points": 10, "reference": "r"}, "description", 7),
    ("POST", "/v1/members/guest-1/burn", {"reference": "r"}, "points", "5"),
    ("POST", f"/v1/transactions/{TXN}/reverse", {}, "points", "5"),
    ("POST", f"/v1/transactions/{TXN}/reverse", {}, "points", True),
    ("POST", f"/v1/transactions/{TXN}/reverse", {}, "reason", 5),
    ("POST", f"/v1/transactions/{TXN}/capture", {}, "points", "10"),
    ("POST", f"/v1/transactions/{TXN}/void", {}, "reason", False),
    (
        "POST",
        "/v1/links",
        {"partner_program": "RIDE", "partner_member_id": "rider-1"},
        "member_id",
        42,
    ),
    ("POST", "/v1/links", {"member_id": "guest-1", "partner_member_id": "r"}, "partner_program", 1),
    (
        "POST",
        "/v1/quotes",
        {"member_id": "guest-1", "from_program": "STAR", "to_program": "RIDE"},
        "points",
        "40",
    ),
    ("POST", "/v1/exchanges", {}, "quote_id", 1),
]
PARTNER_BODY = {"partner_id": "newcafe", "name": "New Cafe", "program": "NEWC"}
ADMIN_CASES: list[tuple[str, str, dict[str, Any], str, Any]] = [
    ("POST", "/v1/partners", PARTNER_BODY, "point_value", 0.0025),
    ("POST", "/v1/partners", PARTNER_BODY | {"point_value": "0.01"}, "name", 1),
    ("POST", "/v1/partners", PARTNER_BODY | {"point_value": "0.01"}, "currency", 840),
    ("POST", "/v1/partners/starlodge/keys", {}, "role", 1),
    ("PUT", "/v1/rates/STAR/RIDE", {}, "rate", 1.5),
    ("PUT", "/v1/rates/STAR/RIDE", {"rate": "1.5"}, "effective_from", 1767225600),
    ("PUT", "/v1/partners/starlodge/signing", {}, "minimum_version", "2"),
    ("PUT", "/v1/partners/starlodge/policy", {}, "hold_timeout_days", "30"),
    ("PUT", "/v1/partners/starlodge/policy", {}, "hold_timeout_days", 30.0),
    (
        "PUT",
        "/v1/partners/starlodge/policy",
        {},
        "expiry",
        {"kind": "after_earning", "months": "12"},
    ),
    ("PUT", "/v1/partners/starlodge/policy", {}, "expiry", {"kind": 1, "months": 12}),
    ("PUT", "/v1/partners/starlodge/policy", {}, "tiers", [{"name": "base", "min_points": "0"}]),
    ("POST", "/v1/settlement-runs", {"period_end": "2026-01-01"}, "period_start", 20260101),
    (
        "POST",
        "/v1/settlement-runs",
        {"period_start": "2026-01-01", "period_end": "2026-01-01"},
        "reason",
        5,
    ),
]
FINANCE_CASES: list[tuple[str, str, dict[str, Any], str, Any]] = [
    ("POST", f"/v1/settlements/{STL}/approve", {}, "reason", 1),
    ("POST", f"/v1/settlements/{STL}/dispute", {}, "reason", True),
    ("POST", f"/v1/settlements/{STL}/mark-paid", {}, "payment_reference", 123),
]


def case_id(case: tuple[str, str, dict[str, Any], str, Any]) -> str:
    method, path, _, name, value = case
    return f"{method} {path} {name}={value!r}"


def refused_naming(reply: Reply, name: str) -> None:
    assert (reply.status, reply.code) == (422, "validation_error"), reply.body
    fields = [detail["field"] for detail in reply.body["error"]["details"]]
    assert any(name in field.split(".") for field in fields), fields


@pytest.mark.parametrize("case", PARTNER_CASES, ids=case_id)
def test_a_partner_body_field_of_the_wrong_json_type_is_refused(
    starlodge: SignedCaller, case: tuple[str, str, dict[str, Any], str, Any]
) -> None:
    # Given a member with points; When a body carries one field of the wrong JSON type
    assert starlodge.earn("guest-1", 100).status == 201
    method, path, body, name, value = case
    reply = starlodge.call(method, path, body | {name: value})
    # Then 422 validation_error naming it, and the member is as it was: no earn, no hold
    refused_naming(reply, name)
    balance = starlodge.get("/v1/members/guest-1").body["balance"]
    assert (balance["available"], balance["pending"]) == (100, 0)
    assert len(starlodge.get("/v1/members/guest-1/transactions").body["items"]) == 1


@pytest.mark.parametrize("case", ADMIN_CASES, ids=case_id)
def test_an_admin_body_field_of_the_wrong_json_type_is_refused(
    admin: SignedCaller, case: tuple[str, str, dict[str, Any], str, Any]
) -> None:
    # Given an admin body with one field of the wrong JSON type
    method, path, body, name, value = case
    # When the operator sends it
    # Then it is a validation error naming the field
    refused_naming(admin.call(method, path, body | {name: value}), name)
    # And no partner was added
    assert len(admin.get("/v1/partners").body["items"]) == 3


@pytest.mark.parametrize("case", FINANCE_CASES, ids=case_id)
def test_a_finance_body_field_of_the_wrong_json_type_is_refused(
    network: DemoNetwork, case: tuple[str, str, dict[str, Any], str, Any]
) -> None:
    # Given the template's finance function and a finance body with one field of the wrong type
    finance = SignedCaller(
        load_handler(functions(TEMPLATE, STACK)["FinanceApiFunction"]), network.finance
    )
    method, path, body, name, value = case
    # When finance sends it
    # Then it is a validation error naming the field
    refused_naming(finance.call(method, path, body | {name: value}), name)


def test_pending_true_is_a_hold_and_false_an_earn(starlodge: SignedCaller) -> None:
    # Given JSON booleans; When earning with each; Then true holds and false earns
    held = starlodge.earn("guest-1", 10, reference="h", pending=True)
    earned = starlodge.earn("guest-1", 5, reference="e", pending=False)
    assert (held.status, held.body["transaction"]["type"]) == (201, "hold")
    assert (earned.status, earned.body["transaction"]["type"]) == (201, "earn")
    assert starlodge.get("/v1/members/guest-1").body["balance"]["pending"] == 10


def test_the_contracts_string_forms_are_still_parsed(admin: SignedCaller) -> None:
    # Given bodies whose dates, times, decimals and enum values JSON carries as strings
    # When the operator sets a rate, issues a key and sets a policy with them
    rate = admin.call(
        "PUT", "/v1/rates/STAR/RIDE", {"rate": "0.25", "effective_from": "2026-01-01T00:00:00Z"}
    )
    key = admin.call("POST", "/v1/partners/starlodge/keys", {"role": "finance"})
    policy = admin.call(
        "PUT",
        "/v1/partners/starlodge/policy",
        {
            "expiry": {"kind": "after_earning", "months": 12},
            "tiers": [{"name": "base", "min_points": 0}, {"name": "gold", "min_points": 100}],
        },
    )
    # Then each is accepted as before
    assert [reply.status for reply in (rate, key, policy)] == [200, 201, 200], [
        reply.body for reply in (rate, key, policy)
    ]
    assert policy.body["expiry"]["months"] == 12
