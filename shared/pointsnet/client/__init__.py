"""The PointsNet SDK: signed HTTP calls to the public API, standard library only.

    client = PointsNetClient("https://api.example.com/Prod", key_id, secret)
    client.earn("m-1", 100, "order-1")

A partner key calls the partner endpoints; an admin key the admin ones (`create_partner`,
`list_partners`, `issue_key`, `list_keys`, `revoke_key`).

Every POST carries an `Idempotency-Key`, generated per call unless given, and the same key is
sent again on the client's own retries so a retried call never posts twice.

`member_points(transaction)` is a transaction's points signed for its member: +100 credited,
-30 debited (a transaction's own `points` is never negative).
"""

from __future__ import annotations

from typing import Any

from pointsnet.client.admin import (
    AdminEndpoints,
    ApiKey,
    IssuedKey,
    Partner,
    PartnerRateLimit,
    PartnerSigning,
)
from pointsnet.client.errors import PointsNetConnectionError, PointsNetError, json_object
from pointsnet.client.finance import FinanceEndpoints
from pointsnet.client.imports import ImportEndpoints
from pointsnet.client.members import MemberEndpoints, member_points
from pointsnet.client.metrics import MetricsEndpoints
from pointsnet.client.network import NetworkEndpoints
from pointsnet.client.responses import REPLAYED_HEADER, ApiResponse
from pointsnet.client.retries import (
    DEFAULT_BACKOFF_BASE_SECONDS,
    DEFAULT_MAX_RETRIES,
    MAX_BACKOFF_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
)
from pointsnet.client.rules import RuleEndpoints
from pointsnet.client.transport import (
    DEFAULT_TIMEOUT_SECONDS,
    IDEMPOTENCY_KEY_HEADER,
    USER_AGENT,
    Query,
    QueryValue,
)
from pointsnet.client.webhooks import WebhookEndpoints, WebhookRefused, verify_webhook

__all__ = [
    "DEFAULT_BACKOFF_BASE_SECONDS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT_SECONDS",
    "IDEMPOTENCY_KEY_HEADER",
    "MAX_BACKOFF_SECONDS",
    "MAX_RETRY_AFTER_SECONDS",
    "REPLAYED_HEADER",
    "USER_AGENT",
    "ApiKey",
    "ApiResponse",
    "IssuedKey",
    "Partner",
    "PartnerRateLimit",
    "PartnerSigning",
    "PointsNetClient",
    "PointsNetConnectionError",
    "PointsNetError",
    "Query",
    "QueryValue",
    "WebhookRefused",
    "member_points",
    "verify_webhook",
]


class PointsNetClient(
    MemberEndpoints,
    ImportEndpoints,
    NetworkEndpoints,
    AdminEndpoints,
    FinanceEndpoints,
    MetricsEndpoints,
    RuleEndpoints,
    WebhookEndpoints,
):
    """Calls the PointsNet API with one key. Thread-safe: it keeps no per-request state."""

    def __repr__(self) -> str:
        return f"PointsNetClient(base_url={self.base_url!r}, key_id={self.key_id!r})"

    def health(self) -> dict[str, Any]:
        """The unsigned health check."""
        return json_object(self.request("GET", "/v1/health", signed=False))
