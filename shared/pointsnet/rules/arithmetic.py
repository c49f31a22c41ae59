"""The arithmetic of earning rules, exactly as the contract states it.

For each item and each `per_amount` rule that applies to it, base = floor(amount x points /
per); the factors of every `multiplier` matching the item multiply it, and the product is
rounded down once. The rule's share is the base; each multiplier's share is what it added, in
the set's order (floor after it less floor before it), so the shares sum to the points. An
`action` rule adds its points (none beyond `max_per_day`), a `comeback` rule its bonus;
`referral` rules give nothing here (their bonuses are transactions of their own).

Every figure is an exact ratio of two ints (a Decimal's `as_integer_ratio()`), and a floor is
integer division: a Decimal quotient or product rounds once it outgrows its context's
precision, which 49 stacked multipliers of 4 decimal places each would, so no precision is
chosen at all. No float is ever involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from pointsnet.ledger.models import RuleShare
from pointsnet.rules.models import (
    ActionRule,
    ComebackRule,
    EarningRule,
    MultiplierRule,
    PerAmountRule,
)


@dataclass(frozen=True)
class Item:
    """One line of a purchase. Its `amount` is the whole line's, whatever its `quantity`."""

    sku: str | None
    category: str | None
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class EarnFacts:
    """What the rules look at: the earn and the member as the earn finds it."""

    at: datetime  # when the earn posts (UTC, aware)
    tier: str | None  # None when the program has no tiers
    items: tuple[Item, ...] = ()  # the purchase; empty for an action earn
    action: str | None = None  # the custom action, for an action earn
    actions_today: int = 0  # earns of `action` the member already had this UTC day
    last_active_at: datetime | None = None  # None: the member was never active


@dataclass(frozen=True)
class Evaluation:
    points: int
    shares: tuple[RuleShare, ...]  # rules that gave points, in the set's order; sum: points
    comeback: bool  # a comeback rule gave points


def items_of(amount: Decimal, items: Sequence[Item] | None) -> tuple[Item, ...]:
    """A purchase's lines; without lines, the whole amount is one line with no category."""
    if items is None:
        return (Item(sku=None, category=None, quantity=1, amount=amount),)
    return tuple(items)


def applies(rule: EarningRule, facts: EarnFacts) -> bool:
    """Whether the rule is in force for this earn: in its window, and for the member's tier."""
    if not rule.active_at(facts.at):
        return False
    return rule.tiers is None or facts.tier in rule.tiers


def evaluate(rules: Sequence[EarningRule], facts: EarnFacts) -> Evaluation:
    live = [rule for rule in rules if applies(rule, facts)]
    # One share per rule, in the set's order; a rule matching several items sums them.
    shares = dict.fromkeys((rule.rule_id for rule in rules), 0)
    # Each rule's figures as exact ratios, once per earn rather than once per item.
    per_amounts = [
        (rule.rule_id, rule.category, rule.points, *rule.per.as_integer_ratio())
        for rule in live
        if isinstance(rule, PerAmountRule)
    ]
    multipliers = [
        (rule.rule_id, rule.category, *rule.factor.as_integer_ratio())
        for rule in live
        if isinstance(rule, MultiplierRule)
    ]
    for item in facts.items:
        _price_item(item, per_amounts, multipliers, shares)
    comeback = False
    for rule in live:
        if isinstance(rule, ActionRule) and _counts(rule, facts):
            shares[rule.rule_id] += rule.points
        elif isinstance(rule, ComebackRule) and _came_back(rule, facts):
            shares[rule.rule_id] += rule.points
            comeback = True
    given = tuple(RuleShare(rule_id=rule_id, points=p) for rule_id, p in shares.items() if p > 0)
    return Evaluation(points=sum(share.points for share in given), shares=given, comeback=comeback)


def _price_item(
    item: Item,
    per_amounts: Sequence[tuple[str, str | None, int, int, int]],
    multipliers: Sequence[tuple[str, str | None, int, int]],
    shares: dict[str, int],
) -> None:
    matching = [
        (rule_id, num, den)
        for rule_id, category, num, den in multipliers
        if category is None or category == item.category
    ]
    amount_num, amount_den = item.amount.as_integer_ratio()
    for rule_id, category, points, per_num, per_den in per_amounts:
        if category is not None and category != item.category:
            continue
        base = (amount_num * points * per_den) // (amount_den * per_num)
        shares[rule_id] += base
        # base x f1 x ... x fk as numerator / denominator, floored after each factor only to
        # tell each multiplier's share; the total is still the one floor of the whole product.
        numerator, denominator, before = base, 1, base
        for multiplier_id, factor_num, factor_den in matching:
            numerator, denominator = numerator * factor_num, denominator * factor_den
            after = numerator // denominator
            shares[multiplier_id] += after - before
            before = after


def _counts(rule: ActionRule, facts: EarnFacts) -> bool:
    if rule.action != facts.action:
        return False
    return rule.max_per_day is None or facts.actions_today < rule.max_per_day


def _came_back(rule: ComebackRule, facts: EarnFacts) -> bool:
    if facts.last_active_at is None:
        return False  # a new member is not coming back
    return facts.at - facts.last_active_at >= timedelta(days=rule.inactive_days)
