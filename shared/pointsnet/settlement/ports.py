"""What settlement reads and writes through: its records, its outcomes and its ports.

`pointsnet.store.settlement_store.SettlementStore` implements `SettlementPort` on DynamoDB,
`pointsnet.store.ledger_day_reader.LedgerDayReader` implements `LedgerDayPort` on the ledger
table, and `pointsnet.store.report_bucket.ReportBucket` implements `ReportStore` on S3; the
journal is read through the journal's own ports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from pointsnet.ledger.models import Obligation
from pointsnet.ledger.port import StoredEntry
from pointsnet.model import Model
from pointsnet.settlement.models import Period, Settlement, SettlementStatus, SettlementSummary

if TYPE_CHECKING:
    from pointsnet.settlement.run_state import RunRecord, ShardTally


class RecordedResponse(Model):
    """The first answer to a settlement POST, kept under the caller's Idempotency-Key."""

    request_id: str
    fingerprint: str
    status: int
    body: str
    created_at: str
    expires_at: int


class SettlementMoved(Exception):
    """The settlement changed (or appeared) since it was read."""


class RequestRecorded(Exception):
    def __init__(self, existing: RecordedResponse) -> None:
        super().__init__(existing.request_id)
        self.existing = existing


class RunBusy(Exception):
    """Another invocation holds this period's run."""


class SettlementPort(Protocol):
    """Settlements, the first answers to settlement POSTs, and runs' checkpoints."""

    def get(self, settlement_id: str) -> Settlement | None: ...

    def create(self, settlement: Settlement) -> None:
        """Raises SettlementMoved when the settlement exists already."""
        ...

    def replace(self, settlement: Settlement) -> None:
        """Write the next version of a settlement read at `settlement.version - 1`."""
        ...

    def replace_recording(self, settlement: Settlement, record: RecordedResponse) -> None:
        """The next version and the request that made it, together or not at all."""
        ...

    def summaries(
        self,
        status: SettlementStatus | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
    ) -> list[SettlementSummary]: ...

    def overlapping(self, period: Period) -> list[SettlementSummary]:
        """Settlements of any other period that shares a day with `period`."""
        ...

    def get_request(self, request_id: str) -> RecordedResponse | None: ...

    def record_request(self, record: RecordedResponse) -> None:
        """Raises RequestRecorded with the first record when the request was recorded before."""
        ...

    def claim_run(self, settlement_id: str, owner: str, now: int, lease_until: int) -> None:
        """Hold the period for the run `owner`; RunBusy while another run's lease lasts."""
        ...

    def release_run(self, settlement_id: str, owner: str) -> None:
        """Free the period at once (a run that failed)."""
        ...

    def end_run(self, settlement_id: str, owner: str) -> None: ...

    def put_run(self, record: RunRecord) -> None: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def put_tally(self, run_id: str, tally: ShardTally) -> None:
        """Keep one check's tally; writing it again (a retried check) replaces it."""
        ...

    def tallies(self, run_id: str) -> list[ShardTally]: ...


class ReportStore(Protocol):
    """Where rendered reports, and the obligation detail runs record for them, are kept."""

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def keys(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix`."""
        ...


# A partner's name in the directory by its id; None when the directory has no such partner.
PartnerNames = Callable[[str], "str | None"]


@dataclass(frozen=True)
class StoredEnd:
    """Where a member account stands now: its stored balance and the entries it counts."""

    available: int
    pending: int
    entries: int
    last_entry: str | None = None  # the transaction of its last entry, where it records it


@dataclass(frozen=True, slots=True)
class EntryEnd:
    """Where one entry left its account: its number in the account's history, the balance
    after it (available, pending), and when it was made."""

    account: str
    number: int
    after: tuple[int, int]
    created_at: datetime

    @classmethod
    def of(cls, entry: StoredEntry) -> EntryEnd:
        balance = entry.balance_after
        return cls(
            entry.account,
            entry.number,
            (balance.available, balance.pending),
            entry.transaction.created_at,
        )


class LedgerDayPort(Protocol):
    """What a shard's check reads of the ledger table: a few items per account the day touched,
    and the shard's obligations of the day. `pointsnet.store.ledger_day_reader` implements it."""

    def entry_before(self, account: str, moment: datetime) -> StoredEntry | None:
        """The account's last entry created before `moment` (None: it has none)."""
        ...

    def latest_entry(self, account: str) -> StoredEntry | None: ...

    def entry_ends(self, transaction_ids: Sequence[str]) -> dict[str, EntryEnd]:
        """Where each entry of `transaction_ids` left its account, by transaction, read by key
        a hundred a request; an entry the table does not hold is left out."""
        ...

    def ends(self, accounts: Sequence[str]) -> dict[str, StoredEnd]:
        """Each account's stored balance; an account with none is left out."""
        ...

    def shard_obligations(self, day: date, shard: int) -> list[Obligation]: ...

    def entry(self, transaction_id: str) -> StoredEntry | None: ...
