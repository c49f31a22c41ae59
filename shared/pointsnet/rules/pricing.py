"""The ledger's `EarnRules`, answered from the program's rule set in force.

An earn by `amount` or `action` is evaluated against the member's standing as the ledger read
it; rules that give nothing make the earn a `422`, and it posts nothing.
"""

from __future__ import annotations

from datetime import datetime

from pointsnet.errors import ValidationFailed
from pointsnet.ledger.commands import MAX_POINTS, EarnCommand
from pointsnet.ledger.earning import MemberStanding, PricedEarn, sent_points
from pointsnet.rules.arithmetic import EarnFacts, Item, evaluate, items_of
from pointsnet.rules.book import RuleBook


class RulePricer:
    def __init__(self, book: RuleBook) -> None:
        self.book = book

    def price(
        self, program: str, command: EarnCommand, standing: MemberStanding, now: datetime
    ) -> PricedEarn:
        if not command.by_rules:
            return sent_points(command)
        stored = self.book.rules_for(program)
        field = "amount" if command.amount is not None else "action"
        if not stored.rules:
            raise ValidationFailed(
                f"program {program} has no earning rules: send points",
                details=[{"field": field, "message": "no earning rules to compute points"}],
            )
        evaluation = evaluate(stored.rules, facts_of(command, standing, now))
        if evaluation.points == 0:
            raise ValidationFailed(
                f"program {program}'s earning rules give this earn 0 points",
                details=[{"field": field, "message": "the earning rules give 0 points"}],
            )
        if evaluation.points > MAX_POINTS:
            raise ValidationFailed(
                f"the earning rules give {evaluation.points} points, over {MAX_POINTS}",
                details=[{"field": field, "message": f"gives more than {MAX_POINTS} points"}],
            )
        return PricedEarn(
            points=evaluation.points, rules=evaluation.shares, rules_version=stored.version
        )

    def inactive_days(self, program: str) -> int | None:
        comeback = self.book.rules_for(program).comeback
        return comeback.inactive_days if comeback else None


def facts_of(command: EarnCommand, standing: MemberStanding, now: datetime) -> EarnFacts:
    items: tuple[Item, ...] = ()
    if command.amount is not None:
        lines = (
            [Item(i.sku, i.category, i.quantity, i.amount) for i in command.items]
            if command.items is not None
            else None
        )
        items = items_of(command.amount, lines)
    return EarnFacts(
        at=now,
        tier=standing.tier,
        items=items,
        action=command.action,
        actions_today=standing.actions_today,
        last_active_at=standing.active_at,
    )
