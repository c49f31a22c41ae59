"""A partner's webhook and statements, and `verify_webhook` for the receiving end.

    from pointsnet.client.webhooks import verify_webhook
    event = verify_webhook(secret, request.headers, request.body)  # raises WebhookRefused

A receiver dedupes by `event["id"]` (also the `X-PN-Event-Id` header): a retried delivery
carries the same id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from pointsnet.client.errors import json_object
from pointsnet.client.transport import SignedTransport
from pointsnet.signing import (
    MAX_CLOCK_SKEW_SECONDS,
    TIMESTAMP_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    timestamp_is_fresh,
    webhook_signature_matches,
)


class WebhookRefused(Exception):
    """The delivery is not the network's, or is too old to trust: answer it 400."""


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_seconds: int = MAX_CLOCK_SKEW_SECONDS,
) -> dict[str, Any]:
    """The delivered event, once its signature is right for `secret` and its timestamp within
    `tolerance_seconds` (a captured delivery cannot be replayed later); else WebhookRefused.

    `headers` may be in any case; `body` must be the raw bytes as received."""
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(WEBHOOK_SIGNATURE_HEADER.lower(), "")
    if not timestamp or not signature:
        raise WebhookRefused(f"needs {TIMESTAMP_HEADER} and {WEBHOOK_SIGNATURE_HEADER}")
    if not timestamp_is_fresh(timestamp, time.time() if now is None else now, tolerance_seconds):
        raise WebhookRefused(f"{TIMESTAMP_HEADER} is not within {tolerance_seconds} s of now")
    if not webhook_signature_matches(secret, timestamp, body, signature):
        raise WebhookRefused(f"{WEBHOOK_SIGNATURE_HEADER} does not match the body")
    event = json.loads(body)
    if not isinstance(event, dict):
        raise WebhookRefused("the body is not an event")
    return event


class WebhookEndpoints(SignedTransport):
    """`/v1/webhooks` and `/v1/statements`, with a partner key."""

    def set_webhook(
        self, url: str, events: Sequence[str], *, rotate_secret: bool = False
    ) -> dict[str, Any]:
        """Create or change the webhook; `secret` is in the answer when new or rotated."""
        body = {"url": url, "events": list(events), "rotate_secret": rotate_secret}
        return json_object(self.request("PUT", "/v1/webhooks", json_body=body))

    def get_webhook(self) -> dict[str, Any]:
        """The webhook without its secret, with its latest deliveries."""
        return json_object(self.request("GET", "/v1/webhooks"))

    def delete_webhook(self) -> dict[str, Any]:
        return json_object(self.request("DELETE", "/v1/webhooks"))

    def statements(self, period_start: date | str, period_end: date | str) -> list[dict[str, Any]]:
        """This partner's side of each settlement starting and ending within the period."""
        query = {"period_start": str(period_start), "period_end": str(period_end)}
        return list(json_object(self.request("GET", "/v1/statements", query=query))["items"])
