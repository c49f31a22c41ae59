"""What webhooks are kept in and sent through.

`pointsnet.store.webhook_store` keeps webhooks and deliveries on the directory table and their
secrets in Secrets Manager; `pointsnet.store.webhook_sender` makes the HTTP calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pointsnet.webhooks.addresses import Target
from pointsnet.webhooks.models import Delivery, Webhook, WebhookSecrets


class WebhookPort(Protocol):
    def get(self, partner_id: str) -> Webhook | None: ...

    def put(self, webhook: Webhook) -> None: ...

    def create(self, webhook: Webhook) -> bool:
        """Put a partner's first webhook; False (nothing written) when it already has one."""
        ...

    def delete(self, partner_id: str) -> None: ...

    def record(self, webhook_id: str, delivery: Delivery) -> None:
        """Keep what became of an event's delivery (one record per event, updated per try)."""
        ...

    def deliveries(self, webhook_id: str, limit: int) -> list[Delivery]:
        """The latest deliveries, newest first."""
        ...


class WebhookSecretsPort(Protocol):
    def put(self, webhook_id: str, secrets: WebhookSecrets) -> None: ...

    def get(self, webhook_id: str) -> WebhookSecrets | None: ...

    def delete(self, webhook_id: str) -> None: ...


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: its status, or why there was none."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Sender(Protocol):
    def post(
        self, target: Target, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Answer:
        """POST to the target's checked address; never raises for the receiver's failures."""
        ...


class RetryQueue(Protocol):
    def retry_later(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Hide a received message for `seconds`, after which it is received again."""
        ...
