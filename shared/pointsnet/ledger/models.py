"""Ledger values: postings, transactions, balances, holds, lots and tier changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field, ValidationInfo, model_validator

from pointsnet.clock import UtcTime
from pointsnet.model import Model

AS_STORED = "as_stored"


class TransactionType(StrEnum):
    EARN = "earn"
    BURN = "burn"
    REVERSAL = "reversal"
    EXCHANGE = "exchange"
    HOLD = "hold"
    CAPTURE = "capture"
    VOID = "void"
    EXPIRY = "expiry"
    IMPORT = "import"  # an opening balance a partner brought to the network


class TransactionStatus(StrEnum):
    POSTED = "posted"
    PENDING = "pending"


class HoldStatus(StrEnum):
    OPEN = "open"
    CAPTURED = "captured"
    VOIDED = "voided"


class Posting(Model):
    """One leg of a transaction: a signed number of points on one account."""

    model_config = ConfigDict(frozen=True)

    account: str
    points: int


class ObligationTerms(Model):
    """What one partner owes another for the points of a cross-partner transaction."""

    model_config = ConfigDict(frozen=True)

    payer: str
    payee: str
    program: str
    points: int = Field(description="Points of `program` the payer pays for; negative to undo")
    unit_price: Decimal = Field(description="Money per point, in `currency`")
    currency: str

    @property
    def amount(self) -> Decimal:
        """Exact, unrounded: settlement rounds per line."""
        return self.unit_price * self.points


class Obligation(Model):
    """One cross-partner transaction's money, as reconciliation reads it by period."""

    model_config = ConfigDict(frozen=True)

    transaction_id: str
    kind: str
    created_at: UtcTime
    terms: ObligationTerms
    # The member account of its entry: obligations are kept in the journal shard of it.
    account: str | None = None


class RuleShare(Model):
    """The points one earning rule gave a transaction."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    points: int


class Balance(Model):
    program: str
    available: int = Field(ge=0)
    pending: int = Field(default=0, ge=0)


class Transaction(Model):
    """An immutable ledger event. Its postings always sum to zero."""

    model_config = ConfigDict(frozen=True)

    transaction_id: str
    type: TransactionType
    status: TransactionStatus = TransactionStatus.POSTED
    program: str
    points: int = Field(ge=1)
    partner_id: str = Field(description="The partner whose member the transaction is for")
    member_id: str
    initiated_by: str = Field(description="The partner that made the request")
    reference: str
    description: str | None = None
    reverses: str | None = Field(
        default=None, description="For a reversal: the transaction it reverses"
    )
    reason: str | None = None
    exchange_id: str | None = Field(
        default=None, description="For an exchange leg: the exchange it belongs to"
    )
    obligation: ObligationTerms | None = Field(
        default=None, description="For a cross-partner transaction: the money it creates"
    )
    hold_id: str | None = Field(
        default=None, description="For a capture or void: the hold it resolves"
    )
    expires_at: UtcTime | None = Field(
        default=None, description="For a hold: when the network voids it unless captured"
    )
    amount: Decimal | None = Field(
        default=None, description="For an earn computed from a spend: the amount spent"
    )
    action: str | None = Field(
        default=None, description="For an earn for a custom action: the action's name"
    )
    rules: tuple[RuleShare, ...] | None = Field(
        default=None, description="For an earn computed by earning rules: each rule's points"
    )
    rules_version: int | None = Field(
        default=None, description="The version of the rule set that computed `rules`"
    )
    referral_id: str | None = Field(
        default=None, description="For a referral bonus: the referral that gave it"
    )
    import_id: str | None = Field(
        default=None, description="For an opening balance: the import it came from"
    )
    created_at: UtcTime
    postings: tuple[Posting, ...]

    @model_validator(mode="after")
    def _postings_balance(self, info: ValidationInfo) -> Transaction:
        # Entries read back are loaded as they are, so that a check can report a bad one.
        as_stored = bool(info.context and info.context.get(AS_STORED))
        if not as_stored and sum(posting.points for posting in self.postings) != 0:
            raise ValueError("postings must sum to zero")
        return self

    def member_delta(self, account: str) -> int:
        return sum(posting.points for posting in self.postings if posting.account == account)


class LotMove(Model):
    """Points into (positive) or out of (negative) one expiry lot of a member.

    `lot` is the lot's expiry date, which is also its id; None stands for points that never
    expire (earned under no expiry policy). A transaction's moves, in order, are what a
    reversal undoes.
    """

    model_config = ConfigDict(frozen=True)

    lot: str | None
    points: int


class HoldState(Model):
    """What is left to decide about a hold: it is captured or voided at most once."""

    model_config = ConfigDict(frozen=True)

    hold_id: str
    status: HoldStatus
    points: int
    account: str
    program: str
    partner_id: str
    member_id: str
    initiated_by: str
    void_after: UtcTime
    obligation: ObligationTerms | None = Field(
        default=None, description="For a cross-partner hold: what a capture will owe per point"
    )
    resolved_by: str | None = None
    resolved_at: UtcTime | None = None
    points_captured: int | None = None


class TierChange(Model):
    """A member moved from one tier to another; written once, published once."""

    model_config = ConfigDict(frozen=True)

    account: str
    partner_id: str
    member_id: str
    program: str
    from_tier: str
    to_tier: str
    direction: str = Field(description="`up` or `down`")
    points_earned: int
    window_start: date
    changed_at: UtcTime
    version: int = Field(description="The member balance's version the change was made at")
    transaction_id: str | None = Field(
        default=None, description="The posting that caused it; None when time passing did"
    )


class InactiveNotice(Model):
    """A member of a program with a `comeback` rule has been inactive `inactive_days`; written
    once per stretch of inactivity, published once as `member.inactive`."""

    model_config = ConfigDict(frozen=True)

    account: str
    partner_id: str
    member_id: str
    program: str
    active_at: UtcTime = Field(description="The member's last activity")
    inactive_days: int
    noticed_at: UtcTime


class ExpiringNotice(Model):
    """Points a member will lose on `expires_at` unless spent (or, on inactivity, kept active)."""

    model_config = ConfigDict(frozen=True)

    account: str
    partner_id: str
    member_id: str
    program: str
    points: int
    expires_at: UtcTime
    lot: str | None = Field(default=None, description="The lot; None when the balance lapses")
    noticed_at: UtcTime
