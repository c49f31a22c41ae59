"""The programs API's earning rules: who may set and read them, versions, validation and
preview, through the template's ProgramsApiFunction."""

from __future__ import annotations

from typing import Any

import pytest

from pointsnet.local.template import functions, load_handler
from tests.helpers import STACK, TEMPLATE, DemoNetwork, SignedCaller

RULES = "/v1/programs/STAR/earning-rules"
BASE = {"rule_id": "base", "type": "per_amount", "points": 1, "per": "1.00"}
COFFEE = {"rule_id": "coffee", "type": "multiplier", "factor": "2", "category": "coffee"}


@pytest.fixture
def programs(network: DemoNetwork) -> dict[str, SignedCaller]:
    """Given the programs function, called with each of the demo network's keys."""
    handler = load_handler(functions(TEMPLATE, STACK)["ProgramsApiFunction"])
    return {
        name: SignedCaller(handler, getattr(network, name))
        for name in ("starlodge", "rideco", "finance", "admin")
    }


def put(caller: SignedCaller, rules: list[dict[str, Any]], path: str = RULES) -> Any:
    return caller.call("PUT", path, {"rules": rules})


def test_a_partner_sets_its_rules_and_each_change_is_a_new_version(
    programs: dict[str, SignedCaller],
) -> None:
    # Given no rules yet
    assert programs["starlodge"].get(RULES).body["version"] == 0
    # When starlodge sets a rule, then replaces the set with two
    first = put(programs["starlodge"], [BASE])
    second = put(programs["starlodge"], [BASE, COFFEE])
    # Then each answer is the set with the next version, and GET shows the one in force
    assert (first.status, first.body["version"]) == (200, 1)
    assert (second.status, second.body["version"]) == (200, 2)
    shown = programs["admin"].get(RULES).body
    assert [rule["rule_id"] for rule in shown["rules"]] == ["base", "coffee"]
    assert shown["updated_by"] == "starlodge"


def test_only_the_programs_partner_or_an_admin_manage_its_rules(
    programs: dict[str, SignedCaller],
) -> None:
    # Given starlodge's program STAR
    # When rideco, finance and an admin set its rules
    rideco = put(programs["rideco"], [BASE])
    finance = put(programs["finance"], [BASE])
    admin = put(programs["admin"], [BASE])
    # Then rideco sees no such program, finance may not, the admin may
    assert (rideco.status, rideco.code) == (404, "not_found")
    assert (finance.status, finance.code) == (403, "forbidden")
    assert admin.status == 200
    # And an unknown program is not found, even for an admin
    assert put(programs["admin"], [BASE], "/v1/programs/NOPE/earning-rules").code == "not_found"


@pytest.mark.parametrize(
    ("rules", "named"),
    [
        ([BASE, BASE], "used twice"),
        ([COFFEE], "no per_amount rule"),
        (
            [
                BASE
                | {"active_from": "2025-02-01T00:00:00Z", "active_until": "2025-02-01T00:00:00Z"}
            ],
            "active_until",
        ),
        ([BASE | {"per": 1.0}], "decimal string"),
        ([BASE | {"tiers": ["gold"]}], "unknown tier gold"),
    ],
)
def test_a_bad_set_is_refused_with_what_is_wrong(
    programs: dict[str, SignedCaller], rules: list[dict[str, Any]], named: str
) -> None:
    # Given starlodge's program STAR with no rules
    # When starlodge puts a bad set
    reply = put(programs["starlodge"], rules)
    # Then it is a 422 whose message or details say what is wrong, and nothing changed
    assert (reply.status, reply.code) == (422, "validation_error")
    assert named in str(reply.body["error"]), reply.body
    assert programs["starlodge"].get(RULES).body["version"] == 0


def test_a_bad_field_is_named_by_where_it_is_in_the_body(
    programs: dict[str, SignedCaller],
) -> None:
    # Given a comeback rule whose inactive_days is a string (the rule's type picks its shape)
    comeback = {"rule_id": "back", "type": "comeback", "inactive_days": "sixty", "points": 50}
    # When starlodge puts it as the second rule
    reply = put(programs["starlodge"], [BASE, comeback])
    # Then the detail names the field as sent, without the type pydantic chose by
    assert (reply.status, reply.code) == (422, "validation_error")
    fields = [detail["field"] for detail in reply.body["error"]["details"]]
    assert fields == ["body.rules.1.inactive_days"], reply.body


def test_a_preview_answers_what_an_earn_would_give_and_posts_nothing(
    programs: dict[str, SignedCaller], starlodge: SignedCaller
) -> None:
    # Given 1 point per 1.00 and double on coffee
    put(programs["starlodge"], [BASE, COFFEE])
    body = {
        "member_id": "guest-1",
        "amount": "12.50",
        "items": [
            {"sku": "latte", "category": "coffee", "quantity": 2, "amount": "7.50"},
            {"sku": "cake", "quantity": 1, "amount": "5.00"},
        ],
    }
    # When starlodge previews an earn of 12.50, 7.50 of it coffee
    reply = programs["starlodge"].call("POST", f"{RULES}/preview", body)
    # Then coffee gives 7 doubled to 14 and the cake 5: 19, and the member has no history
    assert reply.status == 200, reply.body
    assert reply.body == {
        "points": 19,
        "rules": [{"rule_id": "base", "points": 12}, {"rule_id": "coffee", "points": 7}],
        "rules_version": 1,
    }
    assert starlodge.get("/v1/members/guest-1").code == "not_found"
