"""Ledger values: postings, transactions and balances."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    model_validator,
)

AS_STORED = "as_stored"


def rfc3339(moment: datetime) -> str:
    """Fixed-width UTC time, so that string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Every time the network stores or shows: RFC 3339, UTC, fixed width.
UtcTime = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]


class TransactionType(StrEnum):
    EARN = "earn"
    BURN = "burn"
    REVERSAL = "reversal"
    EXCHANGE = "exchange"


class TransactionStatus(StrEnum):
    POSTED = "posted"


class Posting(BaseModel):
    """One leg of a transaction: a signed number of points on one account."""

    model_config = ConfigDict(frozen=True)

    account: str
    points: int


class ObligationTerms(BaseModel):
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


class Balance(BaseModel):
    program: str
    available: int = Field(ge=0)
    pending: int = Field(default=0, ge=0)


class Transaction(BaseModel):
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


def utc_now() -> datetime:
    return datetime.now(UTC)
