"""The weekly full audit: the whole ledger table against itself and against the journal.

Daily runs prove each day from that day's journal; the audit proves the two records agree in
full, on its own schedule. It reads the table in parallel scan segments and
- folds every entry into its account (`ledger.check`, the one fold) against the stored
  balances, lots and holds: every balance is the sum of its entries, none is negative;
- counts and digests the entries of each UTC day and journal shard, and compares them with the
  journal's: an entry in one and not the other (or a different one) shows as that day and
  shard, without holding a list of ids (the digest is an XOR of hashes, so order is free).

The journal side reads every object of every day the table or the journal holds. Its memory
grows with the accounts and the days, not the entries; at a network's full size the same
comparison runs on a DynamoDB export instead of a scan (docs/journal.md).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from pydantic import Field

from pointsnet.clock import UtcTime, utc_now
from pointsnet.journal.layout import shard_of
from pointsnet.journal.ports import JournalHeads, JournalObjects
from pointsnet.journal.reading import read_shard_day
from pointsnet.journal.records import JournalEvent
from pointsnet.ledger.check import check_ledger
from pointsnet.ledger.models import HoldState
from pointsnet.ledger.port import StoredBalance, StoredEntry, StoredLot
from pointsnet.model import Model
from pointsnet.settlement.checks import MAX_DETAILS
from pointsnet.settlement.models import CheckFinding

AUDIT_SEGMENTS = 8


class LedgerScanPort(Protocol):
    def scan_segment(
        self, segment: int, segments: int
    ) -> Iterator[StoredEntry | StoredBalance | StoredLot | HoldState]:
        """One segment of a parallel scan of every entry, balance, lot and hold."""
        ...


class JournalDaysPort(Protocol):
    def days(self) -> list[date]:
        """Every UTC day the journal holds objects for."""
        ...


@dataclass
class Digest:
    entries: int = 0
    xor: int = 0

    def add(self, transaction_id: str) -> None:
        self.entries += 1
        self.xor ^= int.from_bytes(hashlib.sha256(transaction_id.encode()).digest()[:16], "big")


@dataclass
class _Segment:
    items: list[StoredEntry | StoredBalance | StoredLot | HoldState] = field(default_factory=list)
    digests: dict[tuple[date, int], Digest] = field(default_factory=lambda: defaultdict(Digest))


class AuditFinding(Model):
    check: str
    finding: CheckFinding


class AuditReport(Model):
    audited_at: UtcTime
    entries: int
    accounts: int
    days: int
    ok: bool
    offending: int = Field(description="How many findings; `findings` lists the first")
    findings: list[AuditFinding]


class FullAudit:
    def __init__(
        self,
        ledger: LedgerScanPort,
        journal: tuple[JournalObjects, JournalHeads],
        journal_days: JournalDaysPort,
        shards: int,
        *,
        segments: int = AUDIT_SEGMENTS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.ledger = ledger
        self.objects, self.heads = journal
        self.journal_days = journal_days
        self.shards = shards
        self.segments = segments
        self.clock = clock

    def run(self) -> AuditReport:
        with ThreadPoolExecutor(max_workers=self.segments) as pool:
            parts = list(pool.map(self._segment, range(self.segments)))
        items = [item for part in parts for item in part.items]
        table: dict[tuple[date, int], Digest] = defaultdict(Digest)
        for part in parts:
            for key, digest in part.digests.items():
                table[key].entries += digest.entries
                table[key].xor ^= digest.xor
        found: list[AuditFinding] = []
        offending = _ledger_findings(items, found)
        days = sorted({day for day, _ in table} | set(self.journal_days.days()))
        with ThreadPoolExecutor(max_workers=self.segments) as pool:
            journaled = dict(
                zip(
                    [(day, shard) for day in days for shard in range(self.shards)],
                    pool.map(
                        lambda key: self._journal_digest(*key),
                        [(day, shard) for day in days for shard in range(self.shards)],
                    ),
                    strict=True,
                )
            )
        for (day, shard), (digest, problems) in sorted(journaled.items()):
            held = table.get((day, shard), Digest())
            for object_key, message in problems:
                offending += _add(found, "journal_complete", object_key, message)
            if (held.entries, held.xor) != (digest.entries, digest.xor):
                offending += _add(
                    found,
                    "table_matches_journal",
                    f"{day.isoformat()}/{shard}",
                    f"the table holds {held.entries} entries of this day and shard, the journal "
                    f"{digest.entries}"
                    + ("" if held.entries != digest.entries else ", not the same"),
                )
        return AuditReport(
            audited_at=self.clock(),
            entries=sum(isinstance(item, StoredEntry) for item in items),
            accounts=sum(isinstance(item, StoredBalance) for item in items),
            days=len(days),
            ok=offending == 0,
            offending=offending,
            findings=found,
        )

    def _segment(self, segment: int) -> _Segment:
        part = _Segment()
        for item in self.ledger.scan_segment(segment, self.segments):
            part.items.append(item)
            if isinstance(item, StoredEntry):
                day = item.transaction.created_at.date()
                part.digests[(day, shard_of(item.account, self.shards))].add(
                    item.transaction.transaction_id
                )
        return part

    def _journal_digest(self, day: date, shard: int) -> tuple[Digest, list[tuple[str, str]]]:
        read = read_shard_day(self.objects, self.heads, day, shard)
        digest = Digest()
        for record in read.records:
            if record.entry is not None and record.event == JournalEvent.INSERT:
                digest.add(record.entry.transaction.transaction_id)
        return digest, read.problems


def _add(found: list[AuditFinding], check: str, offending_id: str, message: str) -> int:
    if len(found) < MAX_DETAILS:
        found.append(
            AuditFinding(check=check, finding=CheckFinding(id=offending_id, message=message))
        )
    return 1


def _ledger_findings(
    items: Iterable[StoredEntry | StoredBalance | StoredLot | HoldState], found: list[AuditFinding]
) -> int:
    result = check_ledger(items, lots_and_holds=True)
    offending = 0
    for transaction_id in result.unbalanced_transactions:
        offending += _add(
            found, "transactions_balance", transaction_id, "postings do not sum to zero"
        )
    for account, (stored, folded) in result.mismatched_accounts.items():
        offending += _add(
            found, "balances_match_entries", account, f"stored {stored}; entries sum to {folded}"
        )
    for account in result.negative_accounts:
        offending += _add(found, "no_negative_balances", account, "a stored balance is negative")
    for account, (stored, counted) in result.mismatched_lots.items():
        offending += _add(found, "lots_match_balances", account, f"lotted {stored}; lots {counted}")
    for account, (stored, held) in result.mismatched_holds.items():
        offending += _add(
            found, "holds_match_balances", account, f"pending {stored}; open holds {held}"
        )
    return offending
