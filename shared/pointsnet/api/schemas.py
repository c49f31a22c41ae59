"""Response bodies of the API, shared by the handlers and the OpenAPI document."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from pointsnet.ledger.models import Balance, Transaction, UtcTime
from pointsnet.network.models import Link, LinkedAccount


class PostingResponse(BaseModel):
    transaction: Transaction
    balance: Balance = Field(description="The member's balance right after this transaction")


class TransactionDetail(Transaction):
    points_reversed: int | None = Field(
        default=None, description="For an earn or burn: points reversed so far"
    )


class MemberResponse(BaseModel):
    member_id: str
    program: str
    balance: Balance
    links: list[LinkedAccount] = Field(
        default_factory=list, description="Active links: the member at each other program"
    )


class HistoryResponse(BaseModel):
    items: list[Transaction] = Field(description="Newest first")
    next_cursor: str | None = Field(default=None, description="Absent or null on the last page")


class HealthResponse(BaseModel):
    status: str


class LinkResponse(Link):
    """A link as both of its partners see it."""


class RateResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_program: str = Field(alias="from")
    to_program: str = Field(alias="to")
    rate: Decimal = Field(description="Points of `to` per point of `from`, a decimal string")
    price: Decimal | None = Field(
        default=None, description="Money per point of `from`, when the pair has its own price"
    )
    effective_from: UtcTime


class QuoteResponse(BaseModel):
    quote_id: str
    member_id: str
    from_program: str
    to_program: str
    rate: Decimal
    points_out: int = Field(description="Points taken from `from_program`")
    points_in: int = Field(description="Points given in `to_program`, rounded down")
    expires_at: UtcTime
    created_at: UtcTime


class ExchangeBalances(BaseModel):
    from_balance: Balance = Field(alias="from")
    to_balance: Balance = Field(alias="to")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ExchangeResponse(BaseModel):
    exchange_id: str
    type: str = "exchange"
    status: str = "posted"
    quote_id: str
    rate: Decimal
    points_out: int
    points_in: int
    created_at: UtcTime
    debit: Transaction = Field(description="The leg that takes points from `from_program`")
    credit: Transaction = Field(description="The leg that gives points in `to_program`")
    balances: ExchangeBalances
