"""Expiry lots: which of a member's points leave first, and where reversed points go back.

A lot is the points a member earned in one calendar month under an `after_earning` policy;
its id is its expiry date. The balance's `lotted` is the sum of the lots; the rest of the
available balance (points earned under no expiry policy) never expires. Points leave the
soonest-expiring lot first and the never-expiring points last; an earn's reversal takes from
the earn's own lot first; a burn's reversal puts points back, last taken first, into the lots
they came from, with their original expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pointsnet.ledger.models import LotMove


class LotsInconsistent(Exception):
    """The lots cannot cover what the balance says is available: a bug, never a client error."""


@dataclass(frozen=True)
class Lot:
    lot_id: str
    remaining: int
    version: int

    @property
    def expires_at(self) -> datetime:
        return lot_expires_at(self.lot_id)


def lot_id_for(expires_at: datetime) -> str:
    return expires_at.astimezone(UTC).date().isoformat()


def lot_expires_at(lot_id: str) -> datetime:
    day = date.fromisoformat(lot_id)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def take(
    lots: Sequence[Lot],
    unlotted: int,
    points: int,
    *,
    first: str | None = None,
    unlotted_first: bool = False,
) -> list[LotMove]:
    """Take `points`: from `first` (or the never-expiring points), then soonest-expiring first."""
    ordered = sorted(lots, key=lambda lot: lot.lot_id)
    sources: list[tuple[str | None, int]] = []
    if unlotted_first:
        sources.append((None, unlotted))
    sources += [(lot.lot_id, lot.remaining) for lot in ordered if lot.lot_id == first]
    sources += [(lot.lot_id, lot.remaining) for lot in ordered if lot.lot_id != first]
    if not unlotted_first:
        sources.append((None, unlotted))
    moves: list[LotMove] = []
    left = points
    for lot_id, remaining in sources:
        if left == 0:
            break
        taken = min(left, remaining)
        if taken > 0:
            moves.append(LotMove(lot=lot_id, points=-taken))
            left -= taken
    if left:
        raise LotsInconsistent(f"lots and never-expiring points lack {left} of {points}")
    return moves


def restore(consumed: Sequence[LotMove], already: int, points: int) -> list[LotMove]:
    """Give back `points` of what `consumed` took, last taken first, after `already` given back."""
    moves: list[LotMove] = []
    skip, left = already, points
    for move in reversed([move for move in consumed if move.points < 0]):
        taken = -move.points
        skipped = min(skip, taken)
        skip -= skipped
        back = min(left, taken - skipped)
        if back > 0:
            moves.append(LotMove(lot=move.lot, points=back))
            left -= back
    if left:
        # Points the record does not cover came from the never-expiring balance.
        moves.append(LotMove(lot=None, points=left))
    return moves


def lotted_delta(moves: Sequence[LotMove]) -> int:
    return sum(move.points for move in moves if move.lot is not None)
