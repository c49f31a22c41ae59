"""Response bodies of the API, shared by the handlers and the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pointsnet.ledger.models import Balance, Transaction


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
    links: list[dict[str, str]] = Field(default_factory=list)


class HistoryResponse(BaseModel):
    items: list[Transaction] = Field(description="Newest first")
    next_cursor: str | None = Field(default=None, description="Absent or null on the last page")


class HealthResponse(BaseModel):
    status: str
