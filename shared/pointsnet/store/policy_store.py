"""Program policies in the directory table, one item next to each partner's profile.

| item    | pk             | sk     |
| ------- | -------------- | ------ |
| policy  | PARTNER#<id>   | POLICY |
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pointsnet.ledger.models import rfc3339
from pointsnet.programs.policy import StoredPolicy
from pointsnet.store.dynamo import dynamodb_client, from_item, to_item, translate_client_error

POLICY_SK = "POLICY"


class PolicyStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()

    def get_policy(self, partner_id: str) -> StoredPolicy | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"PARTNER#{partner_id}", "sk": POLICY_SK}),
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        return StoredPolicy.model_validate(
            {
                "partner_id": partner_id,
                "policy": values["policy"],
                "updated_at": values.get("updated_at"),
                "updated_by": values.get("updated_by"),
            }
        )

    def put_policy(self, stored: StoredPolicy) -> None:
        item = {
            "pk": f"PARTNER#{stored.partner_id}",
            "sk": POLICY_SK,
            "policy": stored.policy.model_dump(mode="json"),
            "updated_at": rfc3339(stored.updated_at) if stored.updated_at else None,
            "updated_by": stored.updated_by,
        }
        try:
            self.client.put_item(TableName=self.table_name, Item=to_item(item))
        except ClientError as exc:
            raise translate_client_error(exc) from exc
