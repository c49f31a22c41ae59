"""A partner's webhook, what it asks for, and what became of each delivery."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.model import Model

# Every type in `pointsnet.events.models.EVENT_MODELS` (a test holds them equal).
EventType = Literal[
    "points.earned",
    "points.expiring",
    "points.expired",
    "member.tier_changed",
    "member.inactive",
    "settlement.ready",
]
WEBHOOK_ID_PATTERN = r"^wh_[a-z2-7]{26}$"
# How many of the latest deliveries `GET /v1/webhooks` shows.
RECENT_DELIVERIES = 20


def _unique(events: list[str]) -> list[str]:
    if len(set(events)) != len(events):
        raise ValueError("each event type at most once")
    return sorted(events)


class WebhookSettings(Model):
    """`PUT /v1/webhooks`: where to deliver and which event types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="https; http only to a loopback address, and only on a local network. "
        "Refused when its host resolves to a private, loopback or link-local address.",
        examples=["https://partner.example/pointsnet/webhooks"],
    )
    events: Annotated[list[EventType], AfterValidator(_unique)] = Field(
        min_length=1,
        description="The event types to deliver, each once (docs/events/ has each schema)",
        json_schema_extra={"uniqueItems": True},
    )
    rotate_secret: bool = Field(
        default=False,
        description="Issue a new secret, answered once; the previous one also signs every "
        "delivery for 24 hours, so a receiver can switch without missing one",
    )


class Webhook(Model):
    """The stored webhook: one per partner."""

    model_config = ConfigDict(frozen=True)

    webhook_id: str = Field(pattern=WEBHOOK_ID_PATTERN)
    partner_id: str
    url: str
    events: list[EventType]
    created_at: UtcTime
    updated_at: UtcTime
    secret_rotated_at: UtcTime


class WebhookSecrets(Model):
    """What signs a webhook's deliveries: the current secret and, after a rotation, the one
    before it until `previous_until`."""

    model_config = ConfigDict(frozen=True)

    current: str
    previous: str | None = None
    previous_until: datetime | None = None

    def signing(self, now: datetime) -> list[str]:
        if self.previous and self.previous_until and now < self.previous_until:
            return [self.current, self.previous]
        return [self.current]


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    DROPPED = "dropped"


class Delivery(Model):
    """One event's delivery to a webhook, across its attempts."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int = Field(ge=1)
    first_attempt_at: UtcTime
    last_attempt_at: UtcTime
    next_attempt_at: UtcTime | None = Field(
        default=None, description="When the next attempt is due, while `retrying`"
    )
    response_status: int | None = Field(
        default=None, description="The receiver's HTTP status on the last attempt, if it answered"
    )
    error: str | None = Field(
        default=None, description="Why the last attempt failed, when it got no 2xx"
    )


class WebhookView(Model):
    """A webhook as its partner sees it: the secret only when just created or rotated."""

    webhook_id: str
    url: str
    events: list[EventType]
    created_at: UtcTime
    updated_at: UtcTime
    secret_rotated_at: UtcTime
    secret: str | None = Field(
        default=None,
        description="Shown only in the answer that created or rotated it: keep it to verify "
        "`X-PN-Webhook-Signature`",
    )
    deliveries: list[Delivery] | None = Field(
        default=None, description=f"The latest {RECENT_DELIVERIES} deliveries, newest first"
    )


class WebhookDeleted(Model):
    webhook_id: str
    deleted: Literal[True] = True
