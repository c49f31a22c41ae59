"""What the ledger reads and writes through: its records, its write intents and their outcomes.

`LedgerPort` is the ledger's port; `pointsnet.store.ledger_store.LedgerStore` implements it on
DynamoDB. One `LedgerWrite` is one atomic write: every entry, balance, lot, hold and guard in
it commits together or not at all, and a refusal comes back as one of the outcomes below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

from pydantic import Field

from pointsnet.ledger.lifecycle import AccountLifecycle
from pointsnet.ledger.lots import Lot, lot_expires_at
from pointsnet.ledger.models import (
    Balance,
    ExpiringNotice,
    HoldState,
    HoldStatus,
    InactiveNotice,
    LotMove,
    Obligation,
    TierChange,
    Transaction,
)
from pointsnet.model import Model


class StoredEntry(Model):
    """A transaction as stored, with what its first response needs to be replayed exactly."""

    transaction: Transaction
    balance_after: Balance
    fingerprint: str
    account: str
    lots: tuple[LotMove, ...] = ()
    # Its place in the account's history: an account's entries are numbered 1, 2, 3... and its
    # balance counts them, so a missing or extra entry shows as a gap (0: written unnumbered).
    number: int = 0
    # The transaction of the account's entry before it (None: its first, or written before
    # entries named it): a day's check reads the link by key instead of querying `ByAccount`.
    previous: str | None = None


class StoredBalance(Model):
    account: str
    program: str
    available: int
    pending: int = 0
    version: int
    partner_id: str | None = None
    member_id: str | None = None
    lotted: int = 0
    lifecycle: AccountLifecycle = Field(default_factory=AccountLifecycle)
    entries: int = 0  # how many entries the balance has taken: its last entry's number
    last_entry: str | None = None  # that entry's transaction (None: not recorded yet)


class StoredLot(Model):
    account: str
    lot_id: str
    remaining: int
    version: int
    program: str
    partner_id: str
    member_id: str
    notice_at: datetime | None = None
    noticed: bool = False

    @property
    def expires_at(self) -> datetime:
        return lot_expires_at(self.lot_id)

    def as_lot(self) -> Lot:
        return Lot(lot_id=self.lot_id, remaining=self.remaining, version=self.version)


@dataclass(frozen=True)
class BalanceUpdate:
    """Move a member balance from a known version; never below zero."""

    account: str
    program: str
    partner_id: str
    member_id: str
    expected_version: int  # 0: the balance item must not exist yet
    available_delta: int
    pending_delta: int = 0
    lotted_delta: int = 0
    lifecycle: AccountLifecycle | None = None  # None: left as it is
    entries_delta: int = 0  # 1 when the write posts an entry to the account
    last_entry: str | None = None  # the transaction of the entry it posts; None: left as it is


@dataclass(frozen=True)
class ReversalUpdate:
    """Consume points of a transaction's reversible remainder, from a known version."""

    transaction_id: str
    expected_version: int  # 0: nothing reversed yet
    remaining_after: int


@dataclass(frozen=True)
class LotCredit:
    """Add points to a lot, creating it if need be; the balance's version orders credits."""

    account: str
    lot_id: str
    points: int
    program: str
    partner_id: str
    member_id: str
    notice_at: datetime | None


@dataclass(frozen=True)
class LotDebit:
    """Take points out of a lot read at a known version; an emptied lot is deleted."""

    account: str
    lot_id: str
    expected_version: int
    remaining_after: int


@dataclass(frozen=True)
class LotNoticed:
    """Its points.expiring is recorded: the lot is next due at its expiry."""

    account: str
    lot_id: str
    expected_version: int


LotChange = LotCredit | LotDebit | LotNoticed


@dataclass(frozen=True)
class HoldResolution:
    """An open hold captured or voided, at most once."""

    hold_id: str
    status: HoldStatus
    resolved_by: str
    resolved_at: datetime
    points_captured: int


@dataclass(frozen=True)
class SignatureUse:
    """A v1 signature, by digest, and the transaction it authorised: it authorises no other."""

    digest: str
    transaction_id: str
    valid_until: int  # Unix seconds: the signature's timestamp is refused after this


class Guard:
    """Another item a ledger write checks or changes in the same transaction.

    The packages that own those items define the kinds (a link that must be active, a quote
    to consume); the store knows how to write each. `name` says which one failed.
    """

    name: ClassVar[str]


@dataclass(frozen=True)
class LedgerWrite:
    entries: tuple[StoredEntry, ...]
    balances: tuple[BalanceUpdate, ...]
    reversal: ReversalUpdate | None = None
    guards: tuple[Guard, ...] = ()
    lots: tuple[LotChange, ...] = ()
    hold: HoldState | HoldResolution | None = None  # a new hold, or one being resolved
    tier_changes: tuple[TierChange, ...] = ()
    notices: tuple[ExpiringNotice | InactiveNotice, ...] = field(default_factory=tuple)
    signature: SignatureUse | None = None  # the v1 signature that authorised the write
    # The money each cross-partner entry moves, recorded once with it (settlement reads these).
    obligations: tuple[Obligation, ...] = ()


class GuardFailed(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class EntryExists(Exception):
    def __init__(self, existing: StoredEntry) -> None:
        super().__init__(existing.transaction.transaction_id)
        self.existing = existing


class Moved(Exception):
    """Something the write was planned from changed first: plan again from what it is now."""


class BalanceMoved(Moved):
    """The balance changed since it was read; `current` is what it is now."""

    def __init__(self, current: StoredBalance | None) -> None:
        super().__init__("balance moved")
        self.current = current


class ReversalMoved(Moved):
    def __init__(self, remaining: int | None, version: int) -> None:
        super().__init__("reversal state moved")
        self.remaining = remaining
        self.version = version


class LotMoved(Moved):
    """A lot changed since it was read."""


class HoldMoved(Moved):
    """The hold was resolved (or changed) since it was read."""


@dataclass(frozen=True)
class ReversalState:
    remaining: int
    version: int


@dataclass(frozen=True)
class DueItem:
    """An item the `ByDue` index says needs a sweep's attention by now."""

    kind: str
    pk: str
    sk: str
    due_at: str

    @property
    def account(self) -> str:
        return self.pk.removeprefix("ACCT#")

    @property
    def transaction_id(self) -> str:
        return self.pk.removeprefix("TXN#")

    @property
    def lot_id(self) -> str:
        return self.sk.removeprefix("LOT#")


OutboxItem = StoredEntry | TierChange | ExpiringNotice | InactiveNotice


class LedgerPort(Protocol):
    """The ledger table as the ledger uses it."""

    def get_balance(self, account: str) -> StoredBalance | None: ...

    def get_entry(self, transaction_id: str) -> StoredEntry | None: ...

    def get_reversal_state(self, transaction_id: str) -> ReversalState | None: ...

    def signature_use(self, digest: str) -> str | None:
        """The transaction a remembered v1 signature authorised, if it is remembered."""
        ...

    def get_hold(self, hold_id: str) -> HoldState | None: ...

    def lots(self, account: str) -> list[StoredLot]:
        """The member's open lots, soonest-expiring first."""
        ...

    def due(self, kind: str, until: datetime) -> Iterator[DueItem]: ...

    def history(
        self, account: str, limit: int, cursor: str | None = None
    ) -> tuple[list[StoredEntry], str | None]:
        """Entries of one member account, newest first, and the cursor of the next page."""
        ...

    def commit(self, write: LedgerWrite) -> None:
        """All of `write` or nothing; a refusal raises one of this module's outcomes."""
        ...

    def commit_each(self, writes: Sequence[LedgerWrite]) -> list[Exception | None]:
        """Each write all or nothing, independently of the others (several may share one
        transaction); per write, None once committed or the outcome `commit` would raise."""
        ...

    def outbox_item(self, new_image: Mapping[str, object]) -> OutboxItem | None:
        """What a stream record's new image holds, if it is something to publish."""
        ...
