"""Response bodies of the API, shared by the handlers and the OpenAPI document."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.ledger.models import Balance, HoldStatus, Transaction
from pointsnet.model import Model
from pointsnet.network.models import Link, LinkedAccount


class PostingResponse(Model):
    transaction: Transaction
    balance: Balance = Field(description="The member's balance right after this transaction")


class HoldDetail(Model):
    status: HoldStatus = Field(description="`open` until captured or voided, once")
    points_held: int
    void_after: UtcTime = Field(description="When the network voids it unless captured")
    points_captured: int | None = Field(default=None, description="Once captured")
    resolved_by: str | None = Field(
        default=None, description="The capture or void transaction that resolved it"
    )
    resolved_at: UtcTime | None = None


class TransactionDetail(Transaction):
    points_reversed: int | None = Field(
        default=None, description="For an earn, burn or capture: points reversed so far"
    )
    hold: HoldDetail | None = Field(
        default=None, description="For a hold: what has become of it (the entry stays pending)"
    )


class TierProgress(Model):
    points_earned: int = Field(description="Points earned in the rolling 12-month window")
    window_start: date = Field(description="First day of the window: this month and the 11 before")
    next_tier: str | None = Field(default=None, description="Absent at the top tier")
    points_to_next_tier: int | None = Field(
        default=None, description="Points still to earn in the window to reach `next_tier`"
    )


class ExpiringPointsResponse(Model):
    points: int
    expires_at: UtcTime


class MemberResponse(Model):
    member_id: str
    program: str
    balance: Balance
    tier: str | None = Field(
        default=None,
        description="The member's tier, as member.tier_changed last announced it; "
        "present when the program has tiers",
        exclude_if=lambda tier: tier is None,
    )
    tier_progress: TierProgress | None = Field(
        default=None,
        description="Where the member stands in the rolling window; present with `tier`",
        exclude_if=lambda progress: progress is None,
    )
    expiring: list[ExpiringPointsResponse] = Field(
        default_factory=list,
        description="Points that will expire, soonest first, under the program's expiry policy",
    )
    links: list[LinkedAccount] = Field(
        default_factory=list, description="Active links: the member at each other program"
    )


class HistoryResponse(Model):
    items: list[Transaction] = Field(description="Newest first")
    next_cursor: str | None = Field(default=None, description="Absent or null on the last page")


class HealthResponse(Model):
    status: str


class LinkResponse(Link):
    """A link as both of its partners see it."""


class RateResponse(Model):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_program: str = Field(alias="from")
    to_program: str = Field(alias="to")
    rate: Decimal = Field(description="Points of `to` per point of `from`, a decimal string")
    price: Decimal | None = Field(
        default=None, description="Money per point of `from`, when the pair has its own price"
    )
    effective_from: UtcTime


class QuoteResponse(Model):
    quote_id: str
    member_id: str
    from_program: str
    to_program: str
    rate: Decimal
    points_out: int = Field(description="Points taken from `from_program`")
    points_in: int = Field(description="Points given in `to_program`, rounded down")
    expires_at: UtcTime
    created_at: UtcTime


class ExchangeBalances(Model):
    from_balance: Balance = Field(alias="from")
    to_balance: Balance = Field(alias="to")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ExchangeResponse(Model):
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
