"""Earning rule sets in the directory table, beside the program's owner item.

| item            | pk             | sk              | why                                   |
| --------------- | -------------- | --------------- | ------------------------------------- |
| set in force    | PROGRAM#<code> | RULES           | the one item an earn's pricing reads  |
| a version       | PROGRAM#<code> | RULES#<version> | history: what priced older earns      |

A new version is written with the set in force in one transaction, on the condition that the
set in force is still the version it follows, so two changes never take the same number.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.errors import Conflict
from pointsnet.rules.models import StoredRuleSet
from pointsnet.store.dynamo import TableStore, to_item, to_values, translate_client_error

RULES_SK = "RULES"


class RulesStore(TableStore):
    def get_rules(self, program: str) -> StoredRuleSet | None:
        item = self._get(f"PROGRAM#{program}", RULES_SK)
        return _stored(item) if item else None

    def rules_version(self, program: str, version: int) -> StoredRuleSet | None:
        item = self._get(f"PROGRAM#{program}", f"RULES#{version:06d}")
        return _stored(item) if item else None

    def put_rules(self, stored: StoredRuleSet) -> None:
        values = {
            "pk": f"PROGRAM#{stored.program}",
            "program": stored.program,
            "version": stored.version,
            "rules": [rule.model_dump(mode="json", exclude_none=True) for rule in stored.rules],
            "updated_at": rfc3339(stored.updated_at) if stored.updated_at else None,
            "updated_by": stored.updated_by,
        }
        follows = stored.version - 1
        in_force: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": to_item(values | {"sk": RULES_SK}),
            "ConditionExpression": (
                "attribute_not_exists(pk)" if follows == 0 else "version = :follows"
            ),
        }
        if follows:
            in_force["ExpressionAttributeValues"] = to_values({":follows": follows})
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": in_force},
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": to_item(values | {"sk": f"RULES#{stored.version:06d}"}),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise Conflict(
                    f"program {stored.program}'s earning rules changed meanwhile: read and retry"
                ) from exc
            raise translate_client_error(exc) from exc

    def program_owner(self, program: str) -> str | None:
        item = self._get(f"PROGRAM#{program}", "OWNER")
        return str(item["partner_id"]) if item else None


def _stored(item: dict[str, Any]) -> StoredRuleSet:
    # Lax: DynamoDB hands its numbers back as Decimal, and the set was checked when put.
    return StoredRuleSet.model_validate(
        {
            "program": item["program"],
            "version": int(item["version"]),
            "rules": item["rules"],
            "updated_at": item.get("updated_at"),
            "updated_by": item.get("updated_by"),
        },
        strict=False,
    )
