"""What settlement reads and writes through: its records, its outcomes and its ports.

`pointsnet.store.settlement_store.SettlementStore` implements `SettlementPort` on DynamoDB,
`pointsnet.store.ledger_period_reader.LedgerPeriodReader` implements `LedgerPeriodPort` on the
ledger table, `pointsnet.store.report_bucket.ReportBucket` implements `ReportStore` on S3, and
`pointsnet.store.lambda_continuation.LambdaContinuation` is a `Continuation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from pointsnet.ledger.models import Obligation, Transaction
from pointsnet.settlement.models import Period, Settlement, SettlementStatus, SettlementSummary

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a read, and the cursor to resume after it (None: nothing is left)."""

    items: list[T]
    cursor: str | None


@dataclass(frozen=True)
class PeriodEntry:
    transaction: Transaction
    account: str  # the member account whose history lists the entry


@dataclass(frozen=True)
class NegativeBalance:
    account: str
    available: int
    pending: int


@dataclass(frozen=True)
class AccountState:
    """A member account's stored balance beside the sums of all its entries' postings."""

    account: str
    stored: tuple[int, int] | None  # (available, pending); None: no balance item
    folded: tuple[int, int]  # postings to the account, and to its pending sub-account


class RecordedResponse(BaseModel):
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

    def claim_run(self, settlement_id: str, owner: str, now: int, lease_until: int) -> str | None:
        """Take the period's run for `owner`; its saved state (JSON), or None for a new run.

        Raises RunBusy while another owner's lease lasts.
        """
        ...

    def save_run(self, settlement_id: str, owner: str, state: str, lease_until: int) -> None:
        """Checkpoint the run; RunBusy if `owner` lost the lease to another invocation."""
        ...

    def release_run(self, settlement_id: str, owner: str) -> None:
        """Give the period up without touching the checkpoint, so a retry may resume at once."""
        ...

    def end_run(self, settlement_id: str, owner: str) -> None: ...

    def add_touched_accounts(self, run_id: str, accounts: Sequence[str], expires_at: int) -> None:
        """Remember accounts a run must check; writing one twice is harmless."""
        ...

    def touched_accounts(self, run_id: str, cursor: str | None, limit: int) -> Page[str]: ...


class LedgerPeriodPort(Protocol):
    """What reconciliation reads of the ledger, page by page."""

    def entries_page(
        self, period: Period, cursor: str | None, limit: int
    ) -> Page[PeriodEntry | NegativeBalance]:
        """The period's entries, and every negative balance of the ledger, from one page."""
        ...

    def obligations_page(self, period: Period, cursor: str | None, limit: int) -> Page[Obligation]:
        """One page of the period's obligations."""
        ...

    def obligations_of(self, transactions: Sequence[Transaction]) -> dict[str, Obligation]:
        """The recorded obligation of each transaction that has one, by transaction id."""
        ...

    def transactions(self, transaction_ids: Sequence[str]) -> dict[str, Transaction]: ...

    def account_states(self, accounts: Sequence[str]) -> list[AccountState]:
        """Each account's stored balance and the sum of all its entries' postings to it."""
        ...


class ReportStore(Protocol):
    """Where rendered reports are kept."""

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class Continuation(Protocol):
    """Hands the rest of a run, as the event to start from, to a fresh invocation."""

    def __call__(self, event: dict[str, Any]) -> None: ...
