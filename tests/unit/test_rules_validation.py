"""A rule set is parsed strictly and checked as a whole: each refusal names the rule at
fault, a good set is accepted as sent, and tiers the program lacks are reported by rule."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from pointsnet.rules.models import (
    ActionRule,
    ComebackRule,
    PerAmountRule,
    ReferralRule,
    RuleSet,
    StoredRuleSet,
    unknown_tiers,
)

PER_DOLLAR = {"rule_id": "base", "type": "per_amount", "points": 1, "per": "1.00"}
COFFEE = {
    "rule_id": "coffee",
    "type": "per_amount",
    "points": 5,
    "per": "2.00",
    "category": "coffee",
}
CHECK_IN = {"rule_id": "check-in", "type": "action", "action": "check_in", "points": 50}
REFERRAL = {
    "rule_id": "friends",
    "type": "referral",
    "referrer_points": 300,
    "referred_points": 100,
}
COMEBACK = {"rule_id": "back", "type": "comeback", "inactive_days": 90, "points": 500}


def refusal(*rules: dict[str, Any]) -> str:
    """Why the set is refused (the test fails when it is accepted)."""
    with pytest.raises(ValidationError) as refused:
        RuleSet.model_validate({"rules": list(rules)})
    return str(refused.value)


def boost(rule_id: str, factor: Any = "1.5", category: str | None = None) -> dict[str, Any]:
    body = {"rule_id": rule_id, "type": "multiplier", "factor": factor}
    return body | ({"category": category} if category else {})


# --- the set as a whole ----------------------------------------------------------------------


def test_two_rules_with_one_id_are_refused() -> None:
    # Given two rules both called "base"
    # When the set is parsed
    message = refusal(PER_DOLLAR, PER_DOLLAR | {"points": 2})
    # Then it is refused, naming the id
    assert "rule_id base is used twice" in message


def test_a_window_that_ends_before_or_as_it_starts_is_refused() -> None:
    # Given a campaign ending when it starts, and one ending before
    at = "2025-06-01T00:00:00Z"
    same = PER_DOLLAR | {"active_from": at, "active_until": at}
    backwards = PER_DOLLAR | {"active_from": at, "active_until": "2025-05-31T23:59:59Z"}
    # When each set is parsed
    messages = [refusal(same), refusal(backwards)]
    # Then both are refused, naming the rule
    for message in messages:
        assert "rule base: active_until must be after active_from" in message


def test_a_multiplier_with_nothing_to_multiply_is_refused() -> None:
    # Given 1.5x on tea where only coffee earns points, and 2x in a set with no per_amount rule
    # When each set is parsed
    tea = refusal(COFFEE, boost("tea-boost", category="tea"))
    alone = refusal(CHECK_IN, boost("double", "2"))
    # Then both are refused, naming the multiplier
    assert "rule tea-boost: no per_amount rule for category tea to multiply" in tea
    assert "rule double: no per_amount rule for any item to multiply" in alone


def test_a_multiplier_of_one_category_beside_a_rule_of_another_is_refused() -> None:
    # Given 2x on category a where only category b earns points
    only_b = {"rule_id": "b-points", "type": "per_amount", "points": 1, "per": "1.00"}
    # When the set is parsed
    message = refusal(only_b | {"category": "b"}, boost("a-boost", "2", "a"))
    # Then it is refused, naming the multiplier and its category
    assert "rule a-boost: no per_amount rule for category a to multiply" in message


def test_a_multiplier_is_accepted_beside_a_rule_it_can_multiply() -> None:
    # Given 1.5x on tea beside a rule for every item, and 2x everywhere beside a coffee rule
    # When the sets are parsed
    tea = RuleSet.model_validate({"rules": [PER_DOLLAR, boost("tea-boost", category="tea")]})
    anywhere = RuleSet.model_validate({"rules": [COFFEE, boost("double", "2")]})
    # Then both are accepted
    assert [rule.rule_id for rule in tea.rules] == ["base", "tea-boost"]
    assert [rule.rule_id for rule in anywhere.rules] == ["coffee", "double"]


def test_two_rules_for_one_action_are_refused() -> None:
    # Given two rules for check_in
    # When the set is parsed
    message = refusal(CHECK_IN, CHECK_IN | {"rule_id": "check-in-2", "points": 10})
    # Then it is refused, naming the second rule, the action and the first
    assert "rule check-in-2: action check_in has a rule already (check-in)" in message


def test_more_than_one_referral_or_comeback_rule_is_refused() -> None:
    # Given two referral rules, and two comeback rules
    # When each set is parsed
    referrals = refusal(REFERRAL, REFERRAL | {"rule_id": "friends-2"})
    comebacks = refusal(COMEBACK, COMEBACK | {"rule_id": "back-2", "inactive_days": 30})
    # Then each is refused, naming the rules
    assert "rules friends, friends-2: a set has at most one referral rule" in referrals
    assert "rules back, back-2: a set has at most one comeback rule" in comebacks


def test_more_than_50_rules_are_refused() -> None:
    # Given 51 action rules
    rules = [CHECK_IN | {"rule_id": f"a-{n}", "action": f"act_{n}"} for n in range(51)]
    # When the set is parsed
    message = refusal(*rules)
    # Then it is refused as too long; 50 are accepted
    assert "at most 50 items" in message
    assert len(RuleSet.model_validate({"rules": rules[:50]}).rules) == 50


# --- strict fields -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (PER_DOLLAR | {"per": 1}, "a JSON number is not exact"),
        (PER_DOLLAR | {"per": 1.5}, "a JSON number is not exact"),
        (PER_DOLLAR | {"per": 1.0}, "a JSON number is not exact"),
        (PER_DOLLAR | {"per": "0"}, "a decimal above 0"),
        (PER_DOLLAR | {"per": "0.0000"}, "a decimal above 0"),
        (PER_DOLLAR | {"per": "-1"}, "a decimal above 0"),
        (PER_DOLLAR | {"per": "1.00001"}, "4 places"),
        (PER_DOLLAR | {"per": "1e3"}, "a decimal above 0"),
        (PER_DOLLAR | {"points": "5"}, "Input should be a valid integer"),
        (PER_DOLLAR | {"points": 1.0}, "Input should be a valid integer"),
        (PER_DOLLAR | {"points": True}, "Input should be a valid integer"),
        (PER_DOLLAR | {"points": 0}, "greater than or equal to 1"),
        (PER_DOLLAR | {"points": 1_000_001}, "less than or equal to 1000000"),
        (PER_DOLLAR | {"category": ""}, "at least 1 character"),
        (PER_DOLLAR | {"rule_id": "Base"}, "should match pattern"),
        (PER_DOLLAR | {"rule_id": "r" * 41}, "should match pattern"),
        (PER_DOLLAR | {"type": "bonus"}, "does not match any of the expected tags"),
        (PER_DOLLAR | {"colour": "red"}, "Extra inputs are not permitted"),
        (PER_DOLLAR | {"active_from": "2025-06-01T00:00:00"}, "should have timezone info"),
        (PER_DOLLAR | {"active_from": 1748736000}, "must be a JSON string"),
        (PER_DOLLAR | {"tiers": []}, "at least 1 item"),
        (PER_DOLLAR | {"tiers": ["Gold"]}, "should match pattern"),
        (PER_DOLLAR | {"tiers": "gold"}, "valid tuple"),
        (CHECK_IN | {"action": "check-in"}, "should match pattern"),
        (CHECK_IN | {"max_per_day": 0}, "greater than or equal to 1"),
        (CHECK_IN | {"max_per_day": "3"}, "Input should be a valid integer"),
        (COMEBACK | {"inactive_days": 0}, "greater than or equal to 1"),
        (COMEBACK | {"inactive_days": 3651}, "less than or equal to 3650"),
        (REFERRAL | {"referred_points": 0}, "greater than or equal to 1"),
    ],
)
def test_a_field_of_the_wrong_type_or_out_of_range_is_refused(
    rule: dict[str, Any], why: str
) -> None:
    # Given a set whose one rule has a bad field
    # When it is parsed
    message = refusal(rule)
    # Then it is refused, saying why
    assert why in message


@pytest.mark.parametrize(
    ("factor", "why"),
    [
        (2, "a JSON number is not exact"),
        ("0.5", "a decimal from 1 to 100"),
        ("0.9999", "a decimal from 1 to 100"),
        ("100.0001", "a decimal from 1 to 100"),
        ("101", "a decimal from 1 to 100"),
        ("1.23456", "a decimal from 1 to 100"),
    ],
)
def test_a_factor_must_be_a_decimal_string_from_1_to_100(factor: Any, why: str) -> None:
    # Given a multiplier with a factor out of range or not a string
    # When the set is parsed
    message = refusal(PER_DOLLAR, boost("boost", factor))
    # Then it is refused at the multiplier's factor
    assert "rules.1.multiplier.factor" in message
    assert why in message


def test_factors_from_1_to_100_are_accepted() -> None:
    # Given multipliers of 1, 1.0001, 99.9999 and 100.0000
    factors = ["1", "1.0001", "99.9999", "100.0000"]
    # When the set is parsed
    parsed = RuleSet.model_validate(
        {"rules": [PER_DOLLAR, *(boost(f"b-{n}", f) for n, f in enumerate(factors))]}
    )
    # Then each factor is the exact Decimal sent
    assert [getattr(rule, "factor", None) for rule in parsed.rules[1:]] == [
        Decimal(f) for f in factors
    ]


def test_the_rules_must_be_a_json_array() -> None:
    # Given a set whose rules are an object, and a body with no rules
    # When each is parsed
    # Then both are refused
    with pytest.raises(ValidationError):
        RuleSet.model_validate({"rules": {"0": PER_DOLLAR}})
    with pytest.raises(ValidationError):
        RuleSet.model_validate({})


# --- a good set --------------------------------------------------------------------------------


def hotel_rules() -> list[dict[str, Any]]:
    june = {"active_from": "2025-06-01T00:00:00Z", "active_until": "2025-07-01T00:00:00+00:00"}
    return [
        PER_DOLLAR,
        COFFEE,
        COFFEE | {"rule_id": "spa-gold", "category": "spa", "tiers": ["gold", "platinum"]},
        boost("coffee-boost", "1.5", "coffee"),
        boost("june", "2") | june,
        CHECK_IN | {"max_per_day": 1},
        {"rule_id": "review", "type": "action", "action": "review", "points": 20},
        REFERRAL,
        COMEBACK | {"tiers": ["silver"]},
        {"rule_id": "flash", "type": "per_amount", "points": 3, "per": "0.5"} | june,
    ]


def test_a_good_set_of_ten_rules_is_accepted_as_sent() -> None:
    # Given ten rules of every type, with windows, tiers and categories
    body = {"rules": hotel_rules()}
    # When the set is parsed
    parsed = RuleSet.model_validate(body)
    # Then every rule is there in order, typed, with its exact figures and aware times
    assert [rule.rule_id for rule in parsed.rules] == [rule["rule_id"] for rule in body["rules"]]
    first = parsed.rules[0]
    assert isinstance(first, PerAmountRule)
    assert (first.points, first.per, first.category) == (1, Decimal("1.00"), None)
    june = parsed.rules[4]
    assert june.active_from == datetime(2025, 6, 1, tzinfo=UTC)
    assert june.active_until == datetime(2025, 7, 1, tzinfo=UTC)
    # And the lookups find what the services ask for
    assert isinstance(parsed.referral, ReferralRule)
    assert parsed.referral.rule_id == "friends"
    assert isinstance(parsed.comeback, ComebackRule)
    assert parsed.comeback.inactive_days == 90
    check_in = parsed.action_rule("check_in")
    assert isinstance(check_in, ActionRule)
    assert check_in.max_per_day == 1
    assert parsed.action_rule("dance") is None
    assert parsed.tier_names_used() == {"gold", "platinum", "silver"}


def test_a_set_stored_as_json_reads_back_the_same() -> None:
    # Given the good set, stored as the rules store stores it (JSON, no nulls)
    parsed = RuleSet.model_validate({"rules": hotel_rules()})
    dumped = [rule.model_dump(mode="json", exclude_none=True) for rule in parsed.rules]
    # When it is read back
    stored = StoredRuleSet.model_validate(
        {"program": "STAR", "version": 3, "rules": dumped}, strict=False
    )
    # Then the rules are the same, decimals still strings in JSON, and the lookups agree
    assert stored.rules == parsed.rules
    assert dumped[0] == PER_DOLLAR
    assert stored.referral == parsed.referral
    assert stored.comeback == parsed.comeback
    assert stored.action_rule("review") == parsed.action_rule("review")
    assert stored.tier_names_used() == parsed.tier_names_used()


def test_an_empty_set_is_accepted_and_a_program_without_one_is_version_0() -> None:
    # Given a set with no rules, and a program that never had one
    # When the set is parsed and the program's set is made
    cleared = RuleSet.model_validate({"rules": []})
    never = StoredRuleSet.empty("STAR")
    # Then the set is empty, and the program's set is version 0 with nothing in it
    assert cleared.rules == ()
    assert cleared.referral is None
    assert cleared.comeback is None
    assert (never.program, never.version, never.rules) == ("STAR", 0, ())
    assert (never.updated_at, never.updated_by) == (None, None)
    assert never.referral is None


# --- tiers the program does not have ------------------------------------------------------------


def test_unknown_tiers_are_reported_at_each_rule_that_names_them() -> None:
    # Given the good set (spa-gold names gold and platinum, back names silver)
    parsed = RuleSet.model_validate({"rules": hotel_rules()})
    # When its tiers are checked against a program with base, silver and gold
    details = unknown_tiers(parsed, ["base", "silver", "gold"])
    # Then only platinum is unknown, at the rule that names it
    assert details == [{"field": "body.rules.2.tiers", "message": "unknown tier platinum"}]


def test_every_unknown_tier_is_reported_once_per_rule() -> None:
    # Given two rules naming tiers, one naming gold twice
    parsed = RuleSet.model_validate(
        {
            "rules": [
                PER_DOLLAR | {"tiers": ["gold", "gold", "silver"]},
                CHECK_IN | {"tiers": ["gold"]},
            ]
        }
    )
    # When they are checked against a program with no tiers
    details = unknown_tiers(parsed, ())
    # Then each rule's unknown tiers are listed once, in order; a program with them has none
    assert details == [
        {"field": "body.rules.0.tiers", "message": "unknown tier gold"},
        {"field": "body.rules.0.tiers", "message": "unknown tier silver"},
        {"field": "body.rules.1.tiers", "message": "unknown tier gold"},
    ]
    assert unknown_tiers(parsed, {"gold", "silver"}) == []


def test_a_tier_the_program_lacks_is_reported_at_its_rule() -> None:
    # Given a good set whose third rule is for gold and platinum, in a program of member and gold
    parsed = RuleSet.model_validate(
        {"rules": [PER_DOLLAR, CHECK_IN, COFFEE | {"tiers": ["gold", "platinum"]}]}
    )
    # When its tiers are checked
    details = unknown_tiers(parsed, ["member", "gold"])
    # Then platinum alone is reported, at body.rules.2.tiers
    assert details == [{"field": "body.rules.2.tiers", "message": "unknown tier platinum"}]
