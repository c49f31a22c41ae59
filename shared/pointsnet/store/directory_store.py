"""The directory table: partners, their programs and their API keys (never the secrets).

| item     | pk                 | sk       |
| -------- | ------------------ | -------- |
| partner  | PARTNER#<id>       | PROFILE  |
| program  | PROGRAM#<code>     | OWNER    |  (makes program codes unique)
| key      | KEY#<key_id>       | KEY      |
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pointsnet.errors import Conflict, NotFound
from pointsnet.partners.models import ApiKey, Partner
from pointsnet.store.dynamo import (
    dynamodb_client,
    from_item,
    to_item,
    to_values,
    translate_client_error,
)


class DirectoryStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()

    def create_partner(self, partner: Partner) -> None:
        """The partner and its program code are claimed together, or not at all."""
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(
                        {"pk": f"PARTNER#{partner.partner_id}", "sk": "PROFILE"}
                        | partner.model_dump(mode="json", exclude_none=True)
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if partner.program:
            actions.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(
                            {
                                "pk": f"PROGRAM#{partner.program}",
                                "sk": "OWNER",
                                "partner_id": partner.partner_id,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise Conflict(
                    f"partner {partner.partner_id} or program {partner.program} already exists"
                ) from exc
            raise translate_client_error(exc) from exc

    def get_partner(self, partner_id: str) -> Partner | None:
        item = self._get(f"PARTNER#{partner_id}", "PROFILE")
        return Partner.model_validate(item) if item else None

    def list_partners(self) -> list[Partner]:
        # The directory is small (one item per partner, program and key); a scan is fine here.
        partners: list[Partner] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "sk = :profile",
            "ExpressionAttributeValues": to_values({":profile": "PROFILE"}),
        }
        try:
            while True:
                page = self.client.scan(**kwargs)
                partners.extend(
                    Partner.model_validate(from_item(item)) for item in page.get("Items", [])
                )
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        return sorted(partners, key=lambda partner: partner.partner_id)

    def put_key(self, key: ApiKey) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {"pk": f"KEY#{key.key_id}", "sk": "KEY"} | key.model_dump(mode="json")
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def get_key(self, key_id: str) -> ApiKey | None:
        item = self._get(f"KEY#{key_id}", "KEY")
        return ApiKey.model_validate(item) if item else None

    def revoke_key(self, partner_id: str, key_id: str, revoked_at: str) -> ApiKey:
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"KEY#{key_id}", "sk": "KEY"}),
                UpdateExpression=(
                    "SET #status = :revoked, revoked_at = if_not_exists(revoked_at, :at)"
                ),
                ConditionExpression="partner_id = :partner",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_values(
                    {":revoked": "revoked", ":at": revoked_at, ":partner": partner_id}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise NotFound(f"no key {key_id} for partner {partner_id}") from exc
            raise translate_client_error(exc) from exc
        return ApiKey.model_validate(from_item(response["Attributes"]))

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True
            )
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        item = response.get("Item")
        return from_item(item) if item else None
