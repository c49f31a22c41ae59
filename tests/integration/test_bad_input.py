"""Bad input gets the contract's error, and nothing is half-written."""

from __future__ import annotations

import re

import pytest

from pointsnet.api.partner import create_partner_app
from pointsnet.local.template import functions, http_routes, load_handler
from pointsnet.wiring import default_key_resolver
from tests.helpers import STACK, TEMPLATE, DemoNetwork, LambdaContextStub, SignedCaller

EARN = "/v1/members/guest-1/earn"


def assert_nothing_posted(caller: SignedCaller) -> None:
    assert caller.get("/v1/members/guest-1").status == 404


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe\x00",
        b"[" * 5000 + b"]" * 5000,
        b"NaN",
        b'{"points": 1, "reference": "\\ud800"}',
    ],
    ids=["broken", "array", "string", "not-utf8", "deeply-nested", "nan", "lone-surrogate"],
)
def test_a_body_that_is_not_a_json_object_is_invalid_json(
    starlodge: SignedCaller, raw: bytes
) -> None:
    # Given a body that is not a JSON object: broken, an array, a string, not UTF-8...
    # When starlodge posts it, signed, as an earn
    reply = starlodge.call("POST", EARN, raw_body=raw)
    # Then it is refused as invalid JSON and nothing is posted
    assert (reply.status, reply.code) == (400, "invalid_json")
    assert_nothing_posted(starlodge)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reference": "r"}, "points"),
        ({"points": 0, "reference": "r"}, "points"),
        ({"points": -5, "reference": "r"}, "points"),
        ({"points": 1.5, "reference": "r"}, "points"),
        ({"points": "10", "reference": "r"}, "points"),
        ({"points": 10**40, "reference": "r"}, "points"),
        ({"points": 10}, "reference"),
        ({"points": 10, "reference": ""}, "reference"),
        ({"points": 10, "reference": "x" * 129}, "reference"),
        ({"points": 10, "reference": "r", "colour": "red"}, "colour"),
    ],
)
def test_a_field_missing_of_the_wrong_type_or_out_of_range_is_a_validation_error(
    starlodge: SignedCaller, body: dict[str, object], field: str
) -> None:
    # Given an earn body with one field missing, of the wrong type, out of range, or unknown
    # When starlodge posts it
    reply = starlodge.call("POST", EARN, body)
    # Then it is a validation error naming that field, and nothing is posted
    assert (reply.status, reply.code) == (422, "validation_error")
    assert any(field in detail["field"] for detail in reply.body["error"]["details"]), reply.body
    assert_nothing_posted(starlodge)


def test_a_member_id_that_cannot_exist_is_not_found(starlodge: SignedCaller) -> None:
    # Given a member id of 65 characters, one too many for any member to have
    # When starlodge posts an earn for it
    reply = starlodge.call(
        "POST", "/v1/members/" + "m" * 65 + "/earn", {"points": 1, "reference": "r"}
    )
    # Then it is not found, as an unknown member is, and the message names the id
    assert (reply.status, reply.code) == (404, "not_found")
    assert reply.body["error"]["message"] == "no member_id " + "m" * 65
    assert_nothing_posted(starlodge)


# A value for each path parameter that matches its pattern, and one no pattern admits.
WELL_FORMED = {
    "member_id": "guest-1",
    "partner_id": "rideco",
    "program": "STAR",
    "from_program": "STAR",
    "to_program": "RIDE",
    "key_id": "pnk_missing",
    "link_id": "lnk_" + "a" * 26,
    "transaction_id": "txn_" + "a" * 26,
    "settlement_id": "stl_20250101_20250131",
}
MALFORMED = "Z" * 65
KEY_OF_FUNCTION = {"AdminApiFunction": "admin", "FinanceApiFunction": "finance"}


def path_with(template: str, malformed: str) -> str:
    """The route's path with `malformed` given MALFORMED, every other parameter well formed."""
    return re.sub(
        r"{(\w+)}",
        lambda part: MALFORMED if part[1] == malformed else WELL_FORMED.get(part[1], "x"),
        template,
    )


def test_every_malformed_id_in_a_path_is_not_found(network: DemoNetwork) -> None:
    # Given every routed operation with an id in its path, each called with its function's key
    handlers = {name: load_handler(spec) for name, spec in functions(TEMPLATE, STACK).items()}
    cases = [
        (route, name)
        for route in http_routes(TEMPLATE)
        if not route.is_greedy
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    answers = {}
    for route, malformed in cases:
        key = getattr(network, KEY_OF_FUNCTION.get(route.function, "starlodge"))
        caller = SignedCaller(handlers[route.function], key)
        # When the id is one no pattern admits, the others well formed, with an empty body
        body: dict[str, object] | None = {} if route.method in ("POST", "PUT") else None
        reply = caller.call(route.method, path_with(route.path, malformed), body)
        answers[f"{route.method} {route.path} ({malformed})"] = (
            reply.status,
            reply.code,
            MALFORMED in reply.body["error"]["message"],
        )
    # Then each is not found, naming the id, whatever else is wrong with the request
    assert len(cases) >= 30
    assert answers == {case: (404, "not_found", True) for case in answers}


def test_a_limit_out_of_range_is_a_validation_error(starlodge: SignedCaller) -> None:
    # Given a member; When starlodge asks for 101 of their transactions, above the limit's range
    reply = starlodge.get("/v1/members/guest-1/transactions", limit=101)
    # Then it is a validation error
    assert (reply.status, reply.code) == (422, "validation_error")


def test_a_body_over_16_kib_is_payload_too_large(starlodge: SignedCaller) -> None:
    # Given an earn body whose description alone is 16 KiB
    body = {"points": 1, "reference": "r", "description": "x" * (16 * 1024)}
    # When starlodge posts it
    reply = starlodge.call("POST", EARN, body)
    # Then it is refused as too large and nothing is posted
    assert (reply.status, reply.code) == (413, "payload_too_large")
    assert_nothing_posted(starlodge)


def test_an_idempotency_key_longer_than_255_characters_is_refused(
    starlodge: SignedCaller,
) -> None:
    # Given an Idempotency-Key of 256 characters, over the 255 allowed
    # When starlodge earns with it
    reply = starlodge.earn("guest-1", 1, idempotency_key="x" * 256)
    # Then it is a validation error
    assert (reply.status, reply.code) == (422, "validation_error")


def test_an_unknown_route_is_route_not_found(starlodge: SignedCaller) -> None:
    # Given the partner API
    # When starlodge asks for a path it does not have, or a method a path does not take
    replies = [
        starlodge.get("/v1/nowhere"),
        starlodge.call("DELETE", "/v1/members/guest-1"),
    ]
    # Then both are route not found
    assert [(reply.status, reply.code) for reply in replies] == [(404, "route_not_found")] * 2


def test_earning_in_another_program_without_a_link_is_not_linked(
    starlodge: SignedCaller,
) -> None:
    # Given a starlodge member with no link to rideco
    # When starlodge earns them RIDE points
    reply = starlodge.earn("guest-1", 10, program="RIDE")
    # Then it is refused as not linked and nothing is posted
    assert (reply.status, reply.code) == (422, "not_linked")
    assert_nothing_posted(starlodge)


def test_a_bug_is_an_internal_error_without_a_stack_trace(network: DemoNetwork) -> None:
    # Given a function whose ledger fails with an unexpected exception
    def broken_ledger():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret-internal-detail at line 42")

    app = create_partner_app(ledger=broken_ledger, keys=default_key_resolver)
    caller = SignedCaller(
        lambda event, _: app.resolve(event, LambdaContextStub()), network.starlodge
    )
    # When a partner earns
    reply = caller.earn("guest-1", 10)
    # Then 500 internal_error with the envelope and no trace of the exception
    assert (reply.status, reply.code) == (500, "internal_error")
    assert reply.body["error"]["request_id"]
    assert "secret-internal-detail" not in str(reply.body)
    assert "Traceback" not in str(reply.body)
