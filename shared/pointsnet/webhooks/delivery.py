"""One attempt to deliver one event to its partner's webhook, and when to try again.

The queue holds each event until it is delivered or dropped: a failed attempt is tried again
after an exponentially growing delay (1, 2, 4 … minutes, at most 2 hours between tries), the
last try at 24 hours from the first; then the event is dropped, recorded and counted
(`WebhookDeliveriesDropped`). Every try carries the same `X-PN-Event-Id`, so a receiver
dedupes one that arrives twice (an answer lost on the way back is tried again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pointsnet.clock import utc_now
from pointsnet.errors import ValidationFailed
from pointsnet.observability import logger, metrics
from pointsnet.signing import (
    TIMESTAMP_HEADER,
    WEBHOOK_EVENT_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    webhook_signature,
)
from pointsnet.webhooks.addresses import Resolver, checked_target, system_resolver
from pointsnet.webhooks.models import Delivery, DeliveryStatus
from pointsnet.webhooks.ports import Answer, Sender, WebhookPort, WebhookSecretsPort

RECEIVER_TIMEOUT_SECONDS = 10.0
RETRY_FOR = timedelta(hours=24)
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 2 * 3600
USER_AGENT = "PointsNet-Webhooks/1"


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt number `attempt` (1 is the first)."""
    return min(FIRST_RETRY_SECONDS * 2 ** (attempt - 1), LONGEST_RETRY_SECONDS)


@dataclass(frozen=True)
class Outcome:
    result: Literal["delivered", "retry", "dropped", "not_subscribed"]
    retry_in_seconds: int = 0


class Deliverer:
    def __init__(
        self,
        store: WebhookPort,
        vault: WebhookSecretsPort,
        sender: Sender,
        *,
        allow_loopback: bool = False,
        resolve: Resolver = system_resolver,
        clock: Callable[[], datetime] = utc_now,
        run_metrics: Metrics = metrics,
    ) -> None:
        self.store = store
        self.vault = vault
        self.sender = sender
        self.allow_loopback = allow_loopback
        self.resolve = resolve
        self.clock = clock
        self.metrics = run_metrics

    def deliver(self, event: Mapping[str, Any], attempt: int, first_sent_at: datetime) -> Outcome:
        """Try once to deliver a published event (its EventBridge `detail`); `attempt` counts
        from 1, `first_sent_at` is when the event entered the queue."""
        event_id, event_type = str(event["id"]), str(event["type"])
        webhook = self.store.get(str(event["partner_id"]))
        if webhook is None or event_type not in webhook.events:
            return Outcome("not_subscribed")
        held = self.vault.get(webhook.webhook_id)
        if held is None:  # removed since it was read
            return Outcome("not_subscribed")
        now = self.clock()
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            WEBHOOK_EVENT_ID_HEADER: event_id,
            TIMESTAMP_HEADER: timestamp,
            WEBHOOK_SIGNATURE_HEADER: ",".join(
                webhook_signature(secret, timestamp, body) for secret in held.signing(now)
            ),
        }
        try:
            target = checked_target(
                webhook.url, allow_loopback=self.allow_loopback, resolve=self.resolve
            )
        except ValidationFailed as exc:
            answer = Answer(status=None, error=f"refused: {exc}")
        else:
            answer = self.sender.post(target, body, headers, RECEIVER_TIMEOUT_SECONDS)
        finished = self.clock()
        delivery = Delivery(
            event_id=event_id,
            event_type=event_type,
            status=DeliveryStatus.DELIVERED,
            attempts=attempt,
            first_attempt_at=first_sent_at,
            last_attempt_at=now,
            response_status=answer.status,
            error=None if answer.ok else answer.error or f"answered {answer.status}",
        )
        if answer.ok:
            self.store.record(webhook.webhook_id, delivery)
            return Outcome("delivered")
        left = (first_sent_at + RETRY_FOR - finished).total_seconds()
        if left <= 0:
            self.store.record(
                webhook.webhook_id, delivery.model_copy(update={"status": DeliveryStatus.DROPPED})
            )
            self.metrics.add_metric(name="WebhookDeliveriesDropped", unit=MetricUnit.Count, value=1)
            logger.warning(
                "webhook delivery dropped after 24 hours",
                extra={"event_id": event_id, "webhook_id": webhook.webhook_id, "attempts": attempt},
            )
            return Outcome("dropped")
        wait = max(1, min(retry_delay(attempt), int(left)))
        self.store.record(
            webhook.webhook_id,
            delivery.model_copy(
                update={
                    "status": DeliveryStatus.RETRYING,
                    "next_attempt_at": finished + timedelta(seconds=wait),
                }
            ),
        )
        return Outcome("retry", retry_in_seconds=wait)
