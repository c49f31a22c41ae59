"""What a posting plans to write: its legs, how each moves lots, and what else it changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pointsnet.ledger.models import HoldState, LotMove, Transaction
from pointsnet.ledger.port import Guard, HoldResolution, ReversalUpdate


class LotPlanKind(StrEnum):
    AUTO = "auto"  # by the transaction's type: credits form a lot, debits take from lots
    NONE = "none"
    CREATE = "create"
    TAKE = "take"
    RESTORE = "restore"
    EXPIRE_LOT = "expire_lot"
    EXPIRE_ALL = "expire_all"
    GIVEN = "given"  # into the lots `given` names: an opening balance's, as its file says


@dataclass(frozen=True)
class LotPlan:
    """How a leg moves the member's expiry lots."""

    kind: LotPlanKind = LotPlanKind.AUTO
    first: str | None = None  # TAKE: the lot to take from first
    unlotted_first: bool = False  # TAKE: never-expiring points first
    consumed: tuple[LotMove, ...] = ()  # RESTORE: what the reversed debit took
    already: int = 0  # RESTORE: points of it given back before
    lot_id: str | None = None  # EXPIRE_LOT
    given: tuple[LotMove, ...] = ()  # GIVEN: the credits, lot by lot (None: never expires)


@dataclass(frozen=True)
class Leg:
    """One transaction of a write and the member account whose stored balance it moves."""

    transaction: Transaction
    account: str
    lots: LotPlan = LotPlan()
    # (month, points) this leg adds to the tier window; None: an earn's or capture's points.
    tier_points: tuple[str, int] | None = None
    # Whether a tier this leg reaches is a change to record and announce: an opening balance
    # starts the member in its tier, it does not move it.
    records_tier_change: bool = True


@dataclass(frozen=True)
class PlannedWrite:
    legs: tuple[Leg, ...]
    reversal: ReversalUpdate | None = None
    guards: tuple[Guard, ...] = field(default_factory=tuple)
    hold: HoldState | HoldResolution | None = None  # a new hold, or one being resolved
