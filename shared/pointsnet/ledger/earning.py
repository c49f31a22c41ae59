"""How many points an earn gives: the partner's `points`, or what its program's rules compute.

The ledger asks through `EarnRules` (the rules package answers, `pointsnet.rules.pricing`)
while it plans the write, with the member's standing read from the very balance the write
moves, so a rule-priced earn reads nothing a plain one does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pointsnet.errors import ValidationFailed
from pointsnet.ledger.commands import EarnCommand
from pointsnet.ledger.engine import PostingResult
from pointsnet.ledger.models import RuleShare


@dataclass(frozen=True)
class MemberStanding:
    """What the rules may look at: the member as the earn finds it, before the earn."""

    tier: str | None
    active_at: datetime | None
    actions_today: int  # earns of the command's action already this UTC day


@dataclass(frozen=True)
class PricedEarn:
    points: int
    rules: tuple[RuleShare, ...] | None = None
    rules_version: int | None = None


class EarnRules(Protocol):
    def price(
        self, program: str, command: EarnCommand, standing: MemberStanding, now: datetime
    ) -> PricedEarn:
        """The points `command` gives; `ValidationFailed` when its rules give none."""
        ...

    def inactive_days(self, program: str) -> int | None:
        """After how many days without activity a member of `program` is inactive (its
        `comeback` rule's); None: the program does not watch for inactivity."""
        ...


class PointsAsSent:
    """A ledger with no earning rules: every earn must say its points."""

    def price(
        self, program: str, command: EarnCommand, standing: MemberStanding, now: datetime
    ) -> PricedEarn:
        if command.points is None:
            raise ValidationFailed(
                f"program {program} has no earning rules: send points",
                details=[{"field": "points", "message": "required: no earning rules"}],
            )
        return PricedEarn(points=command.points)

    def inactive_days(self, program: str) -> int | None:
        return None


class EarnFollowUps(Protocol):
    def after_earn(self, result: PostingResult) -> None:
        """What an earn sets off once posted (a referral's bonuses); run again on a replay,
        so what a crash left undone is done by the retry."""
        ...


def sent_points(command: EarnCommand) -> PricedEarn:
    """An earn that says its points gives exactly those."""
    assert command.points is not None
    return PricedEarn(points=command.points)
