"""Folding one UTC day of the journal into each program's `DayFigures`: pure, from
`JournalRecord`s, one shard at a time (`DayFold.add`, then `merge` the shards' folds).

Each entry counts once (by its transaction id: a halved retry may journal it twice), and only
`INSERT`s of entries of the day count: a `MODIFY` or `REMOVE` of an entry is a change no
posting makes (reconciliation names it), and balance records repeat what the entries say.

An entry is one transaction on one member account; its program is the transaction's. By type:

| type | figure |
| --- | --- |
| `earn`, `capture` | `points_issued` += the points credited to the member's available |
| `reversal` of an earn or capture | `points_issued` -= the points taken back |
| `burn` | `points_redeemed` += the points debited |
| `reversal` of a burn | `points_redeemed` -= the points given back |
| `expiry` | `points_expired` += the points debited |
| `exchange` | `points_exchanged_in` or `_out`, by the sign of the member's change |
| `hold`, `void` | only `net_change` (pending points are outstanding, not issued) |

A reversal names the transaction it reverses but not its type; its other posting does: the
program's `issued` account for an earn or capture, its `redeemed` account for a burn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from pointsnet.journal.records import JournalEvent, JournalRecord
from pointsnet.ledger.accounts import (
    is_member_account,
    issued_account,
    pending_of,
    redeemed_account,
)
from pointsnet.ledger.models import Transaction, TransactionType
from pointsnet.ledger.port import StoredEntry
from pointsnet.metrics.members import member_hash, members_of
from pointsnet.metrics.models import DayFigures

ISSUING_TYPES = frozenset({TransactionType.EARN, TransactionType.CAPTURE})


@dataclass
class ProgramTally:
    """A program's day so far: exact sums and counts, and its members' hashes."""

    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    exchanged_in: int = 0
    exchanged_out: int = 0
    net_change: int = 0
    entries: int = 0
    new_members: int = 0
    purchases: int = 0
    spend: Decimal = Decimal(0)
    active: set[int] = field(default_factory=set)
    purchasers: set[int] = field(default_factory=set)

    def add(self, entry: StoredEntry) -> None:
        transaction, account = entry.transaction, entry.account
        available = transaction.member_delta(account)
        pending = transaction.member_delta(pending_of(account))
        member = member_hash(account)
        self.entries += 1
        self.net_change += available + pending
        self.active.add(member)
        if entry.number == 1:
            self.new_members += 1
        kind = transaction.type
        if kind in ISSUING_TYPES:
            self.issued += available
        elif kind == TransactionType.BURN:
            self.redeemed -= available
        elif kind == TransactionType.EXPIRY:
            self.expired -= available
        elif kind == TransactionType.EXCHANGE:
            if available > 0:
                self.exchanged_in += available
            else:
                self.exchanged_out -= available
        elif kind == TransactionType.REVERSAL:
            self._reversal(transaction, available)
        if kind == TransactionType.EARN and transaction.amount is not None:
            self.purchases += 1
            self.spend += transaction.amount
            self.purchasers.add(member)

    def _reversal(self, transaction: Transaction, available: int) -> None:
        other = {posting.account for posting in transaction.postings}
        if issued_account(transaction.program) in other:
            self.issued += available  # negative: the credit taken back
        elif redeemed_account(transaction.program) in other:
            self.redeemed -= available  # positive: the points given back

    def merge(self, other: ProgramTally) -> None:
        for name in (
            "issued",
            "redeemed",
            "expired",
            "exchanged_in",
            "exchanged_out",
            "net_change",
            "entries",
            "new_members",
            "purchases",
            "spend",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.active |= other.active
        self.purchasers |= other.purchasers

    def figures(self, program: str, day: date, computed_at: datetime | None) -> DayFigures:
        """The day's figures, outstanding counted from this day alone (see `carried_from`)."""
        return DayFigures(
            program=program,
            day=day,
            points_issued=self.issued,
            points_redeemed=self.redeemed,
            points_expired=self.expired,
            points_exchanged_in=self.exchanged_in,
            points_exchanged_out=self.exchanged_out,
            net_change=self.net_change,
            outstanding_end=self.net_change,
            outstanding_since=day,
            entries=self.entries,
            new_members=self.new_members,
            purchases=self.purchases,
            spend=self.spend,
            active=members_of(self.active),
            purchasers=members_of(self.purchasers),
            computed_at=computed_at,
        )


class DayFold:
    """A UTC day's entries, folded per program as they are read."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.tallies: dict[str, ProgramTally] = {}
        self.seen: set[str] = set()

    @property
    def entries(self) -> int:
        return len(self.seen)

    def add(self, records: Iterable[JournalRecord]) -> DayFold:
        for record in records:
            entry = record.entry
            if record.event != JournalEvent.INSERT or entry is None or record.day != self.day:
                continue
            transaction_id = entry.transaction.transaction_id
            if transaction_id in self.seen or not is_member_account(entry.account):
                continue
            self.seen.add(transaction_id)
            program = entry.transaction.program
            self.tallies.setdefault(program, ProgramTally()).add(entry)
        return self

    def merge(self, other: DayFold) -> DayFold:
        """Add another shard's fold of the same day (shards hold disjoint accounts' entries)."""
        for program, tally in other.tallies.items():
            if program in self.tallies:
                self.tallies[program].merge(tally)
            else:
                self.tallies[program] = tally
        self.seen |= other.seen
        return self

    def figures(self, computed_at: datetime | None = None) -> dict[str, DayFigures]:
        return {
            program: tally.figures(program, self.day, computed_at)
            for program, tally in sorted(self.tallies.items())
        }


def fold_day(
    day: date, records: Iterable[JournalRecord], computed_at: datetime | None = None
) -> dict[str, DayFigures]:
    """Each program's figures for `day` from its journal records, all shards' at once."""
    return DayFold(day).add(records).figures(computed_at)
