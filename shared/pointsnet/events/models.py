"""The events the network publishes to its EventBridge bus: their stable, documented schemas.

Each event is published with source `pointsnet`, detail-type its `type`, and this model as its
detail. `id` is derived from the fact the event reports (a transaction, a tier change, a
notice, a settlement), so a redelivery carries the same id: consumers drop ids they have
seen. `partner_id` is the partner the event is for, so one EventBridge rule per partner
(`{"detail": {"partner_id": ["starlodge"]}}`) routes each partner only its own events. A new
optional field may be added to `data`; anything else is a new `schema_version`.

    python -m pointsnet.events.schemas docs/events   # regenerates the committed JSON Schemas
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, PlainSerializer

from pointsnet.clock import UtcTime
from pointsnet.model import Model

SOURCE = "pointsnet"

EventId = Annotated[
    str,
    Field(
        pattern=r"^evt_[a-z2-7]{26}$",
        description="Stable for the fact reported: a redelivered event has the same id",
    ),
]
Money = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    Field(
        description='A decimal string such as "12.50"',
        json_schema_extra={"pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
    ),
]
Timestamp = Annotated[
    UtcTime,
    Field(description="RFC 3339, UTC, fixed width", json_schema_extra={"format": "date-time"}),
]


def event_id(event_type: str, *facts: str) -> str:
    digest = hashlib.sha256("\n".join((event_type, *facts)).encode()).digest()
    return "evt_" + base64.b32encode(digest[:16]).decode().rstrip("=").lower()


class _Data(Model):
    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )


class BalanceData(_Data):
    available: int = Field(description="Spendable points")
    pending: int = Field(description="Points held until a capture or void")


class PointsEarnedData(_Data):
    transaction_id: str
    transaction_type: Literal["earn", "capture"] = Field(
        description="`capture` when held points were made available"
    )
    program: str
    member_id: str = Field(description="The member at `partner_id`")
    points: int = Field(ge=1)
    reference: str = Field(description="The earning partner's order or receipt id")
    initiated_by: str = Field(description="The partner that gave the points")
    hold_id: str | None = Field(default=None, description="For a capture: the hold it captured")
    balance: BalanceData = Field(description="The member's balance right after")


class PointsExpiringData(_Data):
    program: str
    member_id: str
    points: int = Field(ge=1, description="Points that will expire unless spent")
    expires_at: Timestamp
    reason: Literal["lot", "inactivity"] = Field(
        description="`lot`: points earned in one month reach their expiry; `inactivity`: the "
        "whole balance lapses unless the member earns or spends before"
    )
    lot: str | None = Field(default=None, description="For `lot`: the lot's expiry date")


class PointsExpiredData(_Data):
    transaction_id: str = Field(description="The expiry transaction")
    program: str
    member_id: str
    points: int = Field(ge=1)
    reason: Literal["lot", "inactivity"]
    lot: str | None = Field(default=None, description="For `lot`: the lot's expiry date")
    balance: BalanceData = Field(description="The member's balance right after")


class MemberTierChangedData(_Data):
    program: str
    member_id: str
    from_tier: str
    to_tier: str
    direction: Literal["up", "down"]
    points_earned: int = Field(description="Points earned in the rolling window at the change")
    window_start: date = Field(description="First day of the rolling 12-month window")
    transaction_id: str | None = Field(
        default=None, description="The posting that caused it; absent when time passing did"
    )


class SettlementReadyData(_Data):
    settlement_id: str
    period_start: date
    period_end: date
    currency: str
    status: str = Field(description="The settlement's status when it was produced")
    amount: Money = Field(
        description="This partner's net position: positive when it receives, negative pays"
    )
    provisional: bool = Field(
        default=False,
        description=(
            "The period had not ended when the run started: a later run may change the "
            "figures (an adjustment, once approved)"
        ),
    )


class _Event(Model):
    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )

    id: EventId
    schema_version: Literal[1] = 1
    occurred_at: Timestamp
    partner_id: str = Field(description="The partner this event is for")


class PointsEarned(_Event):
    """Points became available to a member: an earn, or a hold's capture."""

    type: Literal["points.earned"] = "points.earned"
    data: PointsEarnedData


class PointsExpiring(_Event):
    """A member will lose points on `expires_at` (published the program's notice days ahead)."""

    type: Literal["points.expiring"] = "points.expiring"
    data: PointsExpiringData


class PointsExpired(_Event):
    """Points left a member's balance by expiry."""

    type: Literal["points.expired"] = "points.expired"
    data: PointsExpiredData


class MemberTierChanged(_Event):
    """A member's tier went up (at once) or down (when months left the rolling window)."""

    type: Literal["member.tier_changed"] = "member.tier_changed"
    data: MemberTierChangedData


class SettlementReady(_Event):
    """A settlement run produced this partner's position for a period."""

    type: Literal["settlement.ready"] = "settlement.ready"
    data: SettlementReadyData


class MemberInactiveData(_Data):
    program: str
    member_id: str
    active_at: Timestamp = Field(description="The member's last earn, burn, hold or exchange")
    inactive_days: int = Field(description="The program's `comeback` rule's inactivity gap")


class MemberInactive(_Event):
    """A member has been inactive for the `inactive_days` of its program's `comeback` rule:
    published once per stretch of inactivity, so a partner can send a re-engagement offer."""

    type: Literal["member.inactive"] = "member.inactive"
    data: MemberInactiveData


NetworkEvent = (
    PointsEarned
    | PointsExpiring
    | PointsExpired
    | MemberTierChanged
    | MemberInactive
    | SettlementReady
)

EVENT_MODELS: dict[str, type[NetworkEvent]] = {
    "points.earned": PointsEarned,
    "points.expiring": PointsExpiring,
    "points.expired": PointsExpired,
    "member.tier_changed": MemberTierChanged,
    "member.inactive": MemberInactive,
    "settlement.ready": SettlementReady,
}
