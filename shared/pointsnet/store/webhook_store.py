"""Webhooks and their deliveries on the directory table; their secrets in Secrets Manager.

| item     | pk                 | sk                            | notes                      |
| -------- | ------------------ | ----------------------------- | -------------------------- |
| webhook  | PARTNER#<id>       | WEBHOOK                       | one per partner            |
| delivery | WEBHOOK#<wh id>    | DELIVERY#<first try>#<evt id> | per event; expires (TTL)   |

A delivery's key starts with its first attempt, so a Query newest-first is the latest
deliveries. The secrets are one Secrets Manager secret per webhook, `<prefix><webhook id>`,
holding the current secret and, after a rotation, the one before it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.store.dynamo import TableStore, to_item, translate_client_error
from pointsnet.store.key_secrets import CachedSecrets
from pointsnet.webhooks.models import Delivery, Webhook, WebhookSecrets

# A delivery record is kept a month after its last attempt (TTL).
DELIVERY_KEPT = timedelta(days=31)


class WebhookStore(TableStore):
    def get(self, partner_id: str) -> Webhook | None:
        item = self._get(f"PARTNER#{partner_id}", "WEBHOOK")
        return Webhook.model_validate(item) if item else None

    def put(self, webhook: Webhook) -> None:
        self.client.put_item(TableName=self.table_name, Item=to_item(_webhook_item(webhook)))

    def create(self, webhook: Webhook) -> bool:
        return self._put_new(_webhook_item(webhook)) is None

    def delete(self, partner_id: str) -> None:
        self.client.delete_item(
            TableName=self.table_name, Key=to_item({"pk": f"PARTNER#{partner_id}", "sk": "WEBHOOK"})
        )

    def record(self, webhook_id: str, delivery: Delivery) -> None:
        """Keep the delivery unless a later attempt of it is already kept."""
        sk = f"DELIVERY#{rfc3339(delivery.first_attempt_at)}#{delivery.event_id}"
        item = {"pk": f"WEBHOOK#{webhook_id}", "sk": sk} | delivery.model_dump(
            mode="json", exclude_none=True
        )
        item["expires_ttl"] = int((delivery.last_attempt_at + DELIVERY_KEPT).timestamp())
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR attempts <= :attempts",
                ExpressionAttributeValues=to_item({":attempts": delivery.attempts}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate_client_error(exc) from exc

    def deliveries(self, webhook_id: str, limit: int) -> list[Delivery]:
        items, _ = self._query_page(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": f"WEBHOOK#{webhook_id}", ":prefix": "DELIVERY#"}
            ),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Delivery.model_validate(item) for item in items]


def _webhook_item(webhook: Webhook) -> dict[str, Any]:
    return {"pk": f"PARTNER#{webhook.partner_id}", "sk": "WEBHOOK"} | webhook.model_dump(
        mode="json"
    )


class WebhookVault(CachedSecrets):
    """Webhook secrets in Secrets Manager, read through Powertools' cache for `cache_seconds`."""

    def __init__(self, prefix: str, client: Any = None, *, cache_seconds: int = 30) -> None:
        super().__init__(prefix, client, cache_seconds=cache_seconds)

    def put(self, webhook_id: str, secrets: WebhookSecrets) -> None:
        value = secrets.model_dump_json(exclude_none=True)
        try:
            self.client.put_secret_value(SecretId=self.name(webhook_id), SecretString=value)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise translate_client_error(exc) from exc
            self.client.create_secret(
                Name=self.name(webhook_id),
                SecretString=value,
                Description="Signs a PointsNet webhook's deliveries",
            )

    def get(self, webhook_id: str) -> WebhookSecrets | None:
        value = self._read(webhook_id)
        return WebhookSecrets.model_validate_json(value) if value is not None else None

    def delete(self, webhook_id: str) -> None:
        try:
            self.client.delete_secret(
                SecretId=self.name(webhook_id), ForceDeleteWithoutRecovery=True
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise translate_client_error(exc) from exc
