"""Earning rules' arithmetic: each rule type and their combination against figures worked by
hand, the edges of campaigns, tiers, daily caps and comebacks, and a property test against
an independent reading of the contract in Fractions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pointsnet.rules.arithmetic import EarnFacts, Evaluation, Item, applies, evaluate, items_of
from pointsnet.rules.models import EarningRule, RuleSet

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PER_DOLLAR = {"rule_id": "base", "type": "per_amount", "points": 1, "per": "1.00"}


def rules(*bodies: dict[str, Any]) -> tuple[EarningRule, ...]:
    """Rules as a partner sends them, parsed as the API parses them."""
    return RuleSet.model_validate({"rules": list(bodies)}).rules


def boost(rule_id: str, factor: str, category: str | None = None) -> dict[str, Any]:
    body = {"rule_id": rule_id, "type": "multiplier", "factor": factor}
    return body | ({"category": category} if category else {})


def line(amount: str, category: str | None = None, sku: str = "sku-1") -> Item:
    return Item(sku=sku, category=category, quantity=1, amount=Decimal(amount))


def spend(*items: Item, tier: str | None = None, at: datetime = AT) -> EarnFacts:
    return EarnFacts(at=at, tier=tier, items=items)


def shares_of(evaluation: Evaluation) -> list[tuple[str, int]]:
    return [(share.rule_id, share.points) for share in evaluation.shares]


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- per_amount -------------------------------------------------------------------------


def test_a_spend_earns_a_point_per_whole_dollar_rounded_down() -> None:
    # Given 1 point per 1.00
    set_ = rules(PER_DOLLAR)
    # When a member spends 42.50
    evaluation = evaluate(set_, spend(*items_of(Decimal("42.50"), None)))
    # Then floor(42.50 x 1 / 1.00) = 42, all the base rule's
    assert evaluation.points == 42
    assert shares_of(evaluation) == [("base", 42)]
    assert evaluation.comeback is False


def test_points_per_a_fraction_of_money_are_floored_once_per_item() -> None:
    # Given 5 points per 2.00 of coffee
    set_ = rules(
        {
            "rule_id": "coffee",
            "type": "per_amount",
            "points": 5,
            "per": "2.00",
            "category": "coffee",
        }
    )
    # When a member buys 12.50 of coffee, 0.30 of coffee and a 30.00 room
    evaluation = evaluate(
        set_, spend(line("12.50", "coffee"), line("0.30", "coffee"), line("30.00", "room"))
    )
    # Then floor(12.50 x 5 / 2) = floor(31.25) = 31, floor(0.30 x 5 / 2) = floor(0.75) = 0,
    # and the room is not coffee: 31 in one share
    assert evaluation.points == 31
    assert shares_of(evaluation) == [("coffee", 31)]


def test_ten_points_per_three_dollars_on_ten_dollars_is_floored() -> None:
    # Given 10 points per 3.00
    set_ = rules({"rule_id": "tens", "type": "per_amount", "points": 10, "per": "3.00"})
    # When a member spends 10.00
    evaluation = evaluate(set_, spend(line("10.00")))
    # Then floor(10.00 x 10 / 3.00) = floor(33.33...) = 33
    assert evaluation.points == 33
    assert shares_of(evaluation) == [("tens", 33)]


def test_each_item_is_floored_on_its_own_not_on_the_sum() -> None:
    # Given 1 point per 1.00
    set_ = rules(PER_DOLLAR)
    # When a member buys two items of 0.60 (1.20 in all)
    evaluation = evaluate(set_, spend(line("0.60"), line("0.60", sku="sku-2")))
    # Then floor(0.60) + floor(0.60) = 0 + 0: nothing, and no rule is listed
    assert evaluation.points == 0
    assert evaluation.shares == ()


def test_a_spend_with_no_items_is_one_line_with_no_category() -> None:
    # Given a spend of 42.50 sent without items
    amount = Decimal("42.50")
    # When it is made into lines
    lines = items_of(amount, None)
    # Then it is one line of the whole amount, with no sku and no category; given lines stay
    assert lines == (Item(sku=None, category=None, quantity=1, amount=amount),)
    assert items_of(amount, [line("42.50", "coffee")]) == (line("42.50", "coffee"),)
    assert items_of(amount, []) == ()


# --- multipliers ------------------------------------------------------------------------


def test_a_multiplier_on_a_category_boosts_only_its_items() -> None:
    # Given 1 point per 1.00 and 1.5x on coffee
    set_ = rules(PER_DOLLAR, boost("coffee-boost", "1.5", "coffee"))
    # When a member spends 12.50 on coffee and 30.00 on a room
    evaluation = evaluate(set_, spend(line("12.50", "coffee"), line("30.00", "room")))
    # Then coffee: base floor(12.50) = 12, boosted floor(12 x 1.5) = 18; room: 30, unboosted
    # base 12 + 30 = 42, the boost 18 - 12 = 6: 48 points
    assert evaluation.points == 48
    assert shares_of(evaluation) == [("base", 42), ("coffee-boost", 6)]


def test_a_coffee_multiplier_of_one_and_a_half_on_a_base_of_seven() -> None:
    # Given 1 point per 1.00 and 1.5x on coffee
    set_ = rules(PER_DOLLAR, boost("coffee-boost", "1.5", "coffee"))
    # When a member spends 7.00 on coffee, and then 7.00 on coffee and 5.00 on tea
    alone = evaluate(set_, spend(line("7.00", "coffee")))
    mixed = evaluate(set_, spend(line("7.00", "coffee"), line("5.00", "tea")))
    # Then coffee: base 7, floor(7 x 1.5) = floor(10.5) = 10: shares 7 and 3
    assert alone.points == 10
    assert shares_of(alone) == [("base", 7), ("coffee-boost", 3)]
    # And the tea's 5 is not boosted: base 7 + 5 = 12, boost 3, 15 in all
    assert mixed.points == 15
    assert shares_of(mixed) == [("base", 12), ("coffee-boost", 3)]


def test_stacked_multipliers_share_what_each_added_in_the_sets_order() -> None:
    # Given 1 point per 1.00, then 2x, then 1.5x, both on every item
    set_ = rules(PER_DOLLAR, boost("double", "2"), boost("half-more", "1.5"))
    # When a member spends 7.00
    evaluation = evaluate(set_, spend(line("7.00")))
    # Then base 7; 7 x 2 = 14, so double adds 7; 14 x 1.5 = 21, so half-more adds 7
    assert evaluation.points == 21
    assert shares_of(evaluation) == [("base", 7), ("double", 7), ("half-more", 7)]


def test_a_multiplied_base_is_rounded_down() -> None:
    # Given 1 point per 1.00 and 1.5x
    set_ = rules(PER_DOLLAR, boost("half-more", "1.5"))
    # When a member spends 3.00
    evaluation = evaluate(set_, spend(line("3.00")))
    # Then base 3; floor(3 x 1.5) = floor(4.5) = 4: shares 3 and 1
    assert evaluation.points == 4
    assert shares_of(evaluation) == [("base", 3), ("half-more", 1)]


def test_stacked_multipliers_are_rounded_down_once_not_after_each() -> None:
    # Given 1 point per 1.00 and two multipliers of 1.5
    set_ = rules(PER_DOLLAR, boost("first", "1.5"), boost("second", "1.5"))
    # When a member spends 1.00
    evaluation = evaluate(set_, spend(line("1.00")))
    # Then base 1; floor(1 x 1.5 x 1.5) = floor(2.25) = 2 (rounding after each factor would
    # give floor(floor(1.5) x 1.5) = 1); first added floor(1.5) - 1 = 0 and is not listed,
    # second added floor(2.25) - floor(1.5) = 1
    assert evaluation.points == 2
    assert shares_of(evaluation) == [("base", 1), ("second", 1)]


def test_a_multiplier_multiplies_every_matching_per_amount_rule_separately() -> None:
    # Given 1 point per 1.00, 5 points per 2.00 of coffee, and 1.5x on coffee
    set_ = rules(
        PER_DOLLAR,
        {
            "rule_id": "coffee",
            "type": "per_amount",
            "points": 5,
            "per": "2.00",
            "category": "coffee",
        },
        boost("coffee-boost", "1.5", "coffee"),
    )
    # When a member spends 12.50 on coffee and 30.00 on a room
    evaluation = evaluate(set_, spend(line("12.50", "coffee"), line("30.00", "room")))
    # Then base: 12 on the coffee (boosted to 18) and 30 on the room; coffee: 31 (boosted to
    # floor(46.5) = 46); the boost (18 - 12) + (46 - 31) = 21; 42 + 31 + 21 = 94
    assert evaluation.points == 94
    assert shares_of(evaluation) == [("base", 42), ("coffee", 31), ("coffee-boost", 21)]


def test_a_multiplier_of_another_category_boosts_nothing() -> None:
    # Given 1 point per 1.00 and 3x on spa
    set_ = rules(PER_DOLLAR, boost("spa-boost", "3", "spa"))
    # When a member spends 10.00 on a room and 5.00 with no category
    evaluation = evaluate(set_, spend(line("10.00", "room"), line("5.00")))
    # Then only the base: 10 + 5 = 15
    assert evaluation.points == 15
    assert shares_of(evaluation) == [("base", 15)]


def test_the_product_is_exact_where_28_decimal_digits_would_round_it_up() -> None:
    # Given 1 point per 0.0001 and four multipliers of 1.9999
    set_ = rules(
        {"rule_id": "base", "type": "per_amount", "points": 1, "per": "0.0001"},
        *(boost(f"boost-{n}", "1.9999") for n in range(4)),
    )
    # When a member spends 983999599991.9999: base 9839995999919999
    evaluation = evaluate(set_, spend(line("983999599991.9999")))
    # Then base x 1.9999^4 is exactly 157408450373040560.9999999999999999 (chosen so): its
    # floor ends in 560, where a Decimal of 28 digits rounds to ...561 first
    assert evaluation.points == 157408450373040560
    assert sum(points for _, points in shares_of(evaluation)) == evaluation.points


# --- windows and tiers -------------------------------------------------------------------


def test_a_campaign_applies_from_its_start_and_not_at_its_end() -> None:
    # Given 1 point per 1.00, and 2x during June 2025 only
    start, end = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    june = boost("june", "2") | {"active_from": rfc3339(start), "active_until": rfc3339(end)}
    set_ = rules(PER_DOLLAR, june)
    tick = timedelta(microseconds=1)
    # When a member spends 10.00 just before, at the start, just before the end, and at it
    points = [
        evaluate(set_, spend(line("10.00"), at=moment)).points
        for moment in (start - tick, start, end - tick, end)
    ]
    # Then the campaign doubles the two earns inside [start, end): 10, 20, 20, 10
    assert points == [10, 20, 20, 10]


def test_a_window_in_another_timezone_is_the_same_instant() -> None:
    # Given a rule from 2025-06-01T14:00+02:00, that is 12:00Z
    [rule] = rules(PER_DOLLAR | {"active_from": "2025-06-01T14:00:00+02:00"})
    # When an earn posts at 12:00Z, and a microsecond before
    # Then it applies from 12:00Z exactly
    assert applies(rule, spend(at=AT))
    assert not applies(rule, spend(at=AT - timedelta(microseconds=1)))


def test_a_tier_rule_applies_only_to_members_in_its_tiers() -> None:
    # Given 1 point per 1.00 for everyone, and 2 more per 1.00 for gold members
    gold = {"rule_id": "gold", "type": "per_amount", "points": 2, "per": "1", "tiers": ["gold"]}
    set_ = rules(PER_DOLLAR, gold)
    # When a gold, a silver and a tierless member each spend 10.00
    by_tier = {tier: evaluate(set_, spend(line("10.00"), tier=tier)) for tier in ("gold", "silver")}
    tierless = evaluate(set_, spend(line("10.00"), tier=None))
    # Then gold earns 10 + 20 = 30; silver and a member with no tier only the base 10
    assert shares_of(by_tier["gold"]) == [("base", 10), ("gold", 20)]
    assert by_tier["silver"].points == 10
    assert tierless.points == 10


def test_a_multiplier_out_of_its_window_or_tier_does_not_multiply() -> None:
    # Given 1 point per 1.00, 2x for gold, and 3x that ended at noon
    set_ = rules(
        PER_DOLLAR,
        boost("gold-double", "2") | {"tiers": ["gold"]},
        boost("morning", "3") | {"active_until": rfc3339(AT)},
    )
    # When a silver and a gold member spend 5.00 at noon
    silver = evaluate(set_, spend(line("5.00"), tier="silver"))
    gold = evaluate(set_, spend(line("5.00"), tier="gold"))
    # Then silver earns the base 5; gold 5 x 2 = 10; the morning boost is over for both
    assert shares_of(silver) == [("base", 5)]
    assert shares_of(gold) == [("base", 5), ("gold-double", 5)]


# --- actions -----------------------------------------------------------------------------


def check_in(actions_today: int, action: str = "check_in") -> EarnFacts:
    return EarnFacts(at=AT, tier=None, action=action, actions_today=actions_today)


def test_an_action_gives_its_points_up_to_its_daily_cap() -> None:
    # Given 50 points per check-in, at most 2 a day
    check_ins = {"rule_id": "check-in", "type": "action", "action": "check_in", "points": 50}
    set_ = rules(check_ins | {"max_per_day": 2})
    # When a member checks in with 1 check-in today already, and with 2
    second, third = evaluate(set_, check_in(1)), evaluate(set_, check_in(2))
    # Then the second gives 50, the third nothing (and no rule is listed)
    assert shares_of(second) == [("check-in", 50)]
    assert second.points == 50
    assert third.points == 0
    assert third.shares == ()


def test_an_action_without_a_cap_always_gives_its_points() -> None:
    # Given 50 points per check-in, no cap
    set_ = rules({"rule_id": "check-in", "type": "action", "action": "check_in", "points": 50})
    # When a member checks in for the 1000th time today
    evaluation = evaluate(set_, check_in(999))
    # Then it still gives 50
    assert evaluation.points == 50


def test_an_action_gives_only_its_own_rules_points() -> None:
    # Given rules for check_in (50) and review (20), and 1 point per 1.00
    set_ = rules(
        PER_DOLLAR,
        {"rule_id": "check-in", "type": "action", "action": "check_in", "points": 50},
        {"rule_id": "review", "type": "action", "action": "review", "points": 20},
    )
    # When a member writes a review, does an unknown action, and spends 10.00
    review = evaluate(set_, check_in(0, action="review"))
    unknown = evaluate(set_, check_in(0, action="dance"))
    purchase = evaluate(set_, spend(line("10.00")))
    # Then the review gives 20, the unknown action nothing, the spend no action points
    assert shares_of(review) == [("review", 20)]
    assert unknown.points == 0
    assert shares_of(purchase) == [("base", 10)]


# --- comebacks and referrals --------------------------------------------------------------


def returning(last_active_at: datetime | None) -> EarnFacts:
    return EarnFacts(at=AT, tier=None, items=(line("10.00"),), last_active_at=last_active_at)


def test_a_comeback_bonus_is_given_from_exactly_its_inactive_days() -> None:
    # Given 1 point per 1.00 and a bonus of 500 after 90 days without activity
    comeback = {"rule_id": "welcome-back", "type": "comeback", "inactive_days": 90, "points": 500}
    set_ = rules(PER_DOLLAR, comeback)
    # When a member last active exactly 90 days ago, and one 90 days less a microsecond ago,
    # each spend 10.00
    back = evaluate(set_, returning(AT - timedelta(days=90)))
    short = evaluate(set_, returning(AT - timedelta(days=90) + timedelta(microseconds=1)))
    # Then the first earns 10 + 500 and came back; the second only 10
    assert shares_of(back) == [("base", 10), ("welcome-back", 500)]
    assert back.comeback is True
    assert shares_of(short) == [("base", 10)]
    assert short.comeback is False


def test_a_member_never_active_is_not_coming_back() -> None:
    # Given a bonus of 500 after 1 day without activity
    set_ = rules({"rule_id": "back", "type": "comeback", "inactive_days": 1, "points": 500})
    # When a member never active before earns
    evaluation = evaluate(set_, returning(None))
    # Then no bonus
    assert evaluation.points == 0
    assert evaluation.comeback is False


def test_a_comeback_bonus_also_comes_with_an_action() -> None:
    # Given 50 points per check-in, at most 1 a day, and 200 after 30 days away
    set_ = rules(
        {"rule_id": "check-in", "type": "action", "action": "check_in", "points": 50},
        {"rule_id": "back", "type": "comeback", "inactive_days": 30, "points": 200},
    )
    # When a member away for 31 days checks in
    facts = EarnFacts(at=AT, tier=None, action="check_in", last_active_at=AT - timedelta(days=31))
    evaluation = evaluate(set_, facts)
    # Then 50 + 200
    assert shares_of(evaluation) == [("check-in", 50), ("back", 200)]
    assert evaluation.comeback is True


def test_a_referral_rule_gives_nothing_to_an_earn() -> None:
    # Given a referral rule (its bonuses are transactions of their own) and 1 point per 1.00
    set_ = rules(
        {"rule_id": "friends", "type": "referral", "referrer_points": 300, "referred_points": 100},
        PER_DOLLAR,
    )
    # When a member spends 10.00
    evaluation = evaluate(set_, spend(line("10.00")))
    # Then only the base
    assert shares_of(evaluation) == [("base", 10)]


def test_every_rule_type_together() -> None:
    # Given a hotel's set: 1 per 1.00; 10 per 5.00 of spa for gold; 2x spa in June; 1.25x
    # for everything in June; 50 per check-in; 200 after 30 days away; a referral
    june = {"active_from": "2025-06-01T00:00:00Z", "active_until": "2025-07-01T00:00:00Z"}
    set_ = rules(
        PER_DOLLAR,
        {
            "rule_id": "spa-gold",
            "type": "per_amount",
            "points": 10,
            "per": "5.00",
            "category": "spa",
            "tiers": ["gold"],
        },
        boost("spa-june", "2", "spa") | june,
        boost("june", "1.25") | june,
        {"rule_id": "check-in", "type": "action", "action": "check_in", "points": 50},
        {"rule_id": "back", "type": "comeback", "inactive_days": 30, "points": 200},
        {"rule_id": "friends", "type": "referral", "referrer_points": 300, "referred_points": 100},
    )
    # When a gold member away since April spends 47.99 at the spa and 120.40 on a room
    facts = EarnFacts(
        at=AT,
        tier="gold",
        items=(line("47.99", "spa"), line("120.40", "room")),
        last_active_at=datetime(2025, 4, 2, tzinfo=UTC),
    )
    evaluation = evaluate(set_, facts)
    # Then spa by base: 47 x 2 x 1.25 = 117.5 -> 117 (spa-june +47, june +23)
    #      spa by spa-gold: floor(47.99 x 10 / 5) = 95; 95 x 2 = 190 (+95); x 1.25 = 237.5
    #      -> 237 (+47)
    #      room by base: 120; x 1.25 = 150 (+30)
    # base 47 + 120 = 167, spa-gold 95, spa-june 47 + 95 = 142, june 23 + 47 + 30 = 100,
    # back 200 (60 days away): 167 + 95 + 142 + 100 + 200 = 704
    assert shares_of(evaluation) == [
        ("base", 167),
        ("spa-gold", 95),
        ("spa-june", 142),
        ("june", 100),
        ("back", 200),
    ]
    assert evaluation.points == 704
    assert evaluation.comeback is True


# --- the property: evaluate agrees with the contract read again, in Fractions --------------

START = datetime(2025, 6, 1, tzinfo=UTC)
CATEGORIES = st.sampled_from(["a", "b", None])
TIER_NAMES = ("gold", "silver")
PERS = ("0.50", "1.00", "2.50", "3.00")
FACTORS = ("1", "1.25", "1.5", "2", "3")
Body = dict[str, Any]


def hour(offset: int) -> datetime:
    return START + timedelta(hours=offset)


def contract_points(
    bodies: Sequence[Body],
    at: datetime,
    tier: str | None,
    purchase: Sequence[tuple[str, str | None]],
) -> tuple[int, dict[str, int]]:
    """The contract's arithmetic read again from the rules as sent (strings, not Decimals):
    per item and matching per_amount rule, base = floor(amount x points / per); the matching
    multipliers in the set's order each add floor(base x f1..fk) - floor(base x f1..fk-1)."""

    def in_force(body: Body) -> bool:
        if "active_from" in body and at < datetime.fromisoformat(body["active_from"]):
            return False
        if "active_until" in body and at >= datetime.fromisoformat(body["active_until"]):
            return False
        return "tiers" not in body or tier in body["tiers"]

    def matches(body: Body, category: str | None) -> bool:
        return body.get("category") is None or body["category"] == category

    total, shares = 0, {body["rule_id"]: 0 for body in bodies}
    for amount, category in purchase:
        factors = [
            (body["rule_id"], Fraction(body["factor"]))
            for body in bodies
            if body["type"] == "multiplier" and in_force(body) and matches(body, category)
        ]
        for body in bodies:
            if body["type"] != "per_amount" or not in_force(body) or not matches(body, category):
                continue
            base = math.floor(Fraction(amount) * body["points"] / Fraction(body["per"]))
            shares[body["rule_id"]] += base
            product = Fraction(base)
            for rule_id, factor in factors:
                before = math.floor(product)
                product *= factor
                shares[rule_id] += math.floor(product) - before
            total += math.floor(product)
    return total, {rule_id: points for rule_id, points in shares.items() if points > 0}


@st.composite
def scope(draw: st.DrawFn) -> Body:
    """Optionally a window on whole hours around START, optionally tiers."""
    body: Body = {}
    if draw(st.booleans()):
        start = draw(st.none() | st.integers(-3, 3))
        length = draw(st.none() | st.integers(1, 4))
        if start is not None:
            body["active_from"] = rfc3339(hour(start))
        if length is not None:
            body["active_until"] = rfc3339(hour((-3 if start is None else start) + length))
    if draw(st.booleans()):
        tiers = st.lists(st.sampled_from(TIER_NAMES), min_size=1, max_size=2, unique=True)
        body["tiers"] = draw(tiers)
    return body


@st.composite
def rule_body(draw: st.DrawFn, kind: str, uncategorised: bool = False) -> Body:
    body: Body = {"type": kind} | draw(scope())
    if kind == "per_amount":
        body |= {"points": draw(st.integers(1, 50)), "per": draw(st.sampled_from(PERS))}
    else:
        body["factor"] = draw(st.sampled_from(FACTORS))
    category = None if uncategorised else draw(CATEGORIES)
    return body | ({"category": category} if category is not None else {})


@st.composite
def rule_set(draw: st.DrawFn) -> list[Body]:
    """Per_amount and multiplier rules, always with one uncategorised per_amount rule (so
    every multiplier has something to multiply), anywhere in the set."""
    kinds = st.sampled_from(["per_amount", "multiplier"])
    others = draw(st.lists(kinds.flatmap(rule_body), max_size=7))
    at = draw(st.integers(0, len(others)))
    bodies = [*others[:at], draw(rule_body("per_amount", uncategorised=True)), *others[at:]]
    return [{"rule_id": f"rule-{index}"} | body for index, body in enumerate(bodies)]


two_places = st.integers(0, 10_000_000).map(lambda cents: f"{cents // 100}.{cents % 100:02d}")
moments = st.builds(
    lambda offset, nudge: hour(offset) + nudge,
    st.integers(-4, 8),
    st.sampled_from([timedelta(0), timedelta(microseconds=-1), timedelta(minutes=30)]),
)


@settings(max_examples=200, deadline=None)
@given(
    bodies=rule_set(),
    purchase=st.lists(st.tuples(two_places, CATEGORIES), min_size=1, max_size=20),
    tier=st.sampled_from((None, *TIER_NAMES)),
    at=moments,
)
def test_evaluate_agrees_with_the_contract_in_fractions(
    bodies: list[Body], purchase: list[tuple[str, str | None]], tier: str | None, at: datetime
) -> None:
    # Given per_amount and multiplier rules with random categories, windows and tiers, and a
    # purchase of 1 to 20 lines of amounts with 2 places, by a member of a random tier
    set_ = rules(*bodies)
    items = tuple(
        Item(sku=f"sku-{n}", category=category, quantity=1, amount=Decimal(amount))
        for n, (amount, category) in enumerate(purchase)
    )
    # When the rules are evaluated, and the contract is read again in Fractions
    evaluation = evaluate(set_, EarnFacts(at=at, tier=tier, items=items))
    total, shares = contract_points(bodies, at, tier, purchase)
    # Then both give the same points and the same shares, listed in the set's order (the
    # reference keeps it), each above 0, summing to the points
    assert evaluation.points == total
    assert shares_of(evaluation) == list(shares.items())
    assert sum(share.points for share in evaluation.shares) == evaluation.points
    assert evaluation.comeback is False
