"""Program policies in the directory table, one item next to each partner's profile.

| item    | pk             | sk     |
| ------- | -------------- | ------ |
| policy  | PARTNER#<id>   | POLICY |
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.programs.policy import StoredPolicy
from pointsnet.store.dynamo import TableStore, to_item, translate_client_error

POLICY_SK = "POLICY"


class PolicyStore(TableStore):
    def get_policy(self, partner_id: str) -> StoredPolicy | None:
        values = self._get(f"PARTNER#{partner_id}", POLICY_SK)
        if values is None:
            return None
        # Lax: DynamoDB hands its numbers back as Decimal, and the body was checked when put.
        return StoredPolicy.model_validate(
            {
                "partner_id": partner_id,
                "policy": values["policy"],
                "updated_at": values.get("updated_at"),
                "updated_by": values.get("updated_by"),
            },
            strict=False,
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
