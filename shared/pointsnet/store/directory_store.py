"""The directory table: partners, their programs and their API keys (never the secrets).

| item     | pk              | sk           | why                                         |
| -------- | --------------- | ------------ | ------------------------------------------- |
| partner  | PARTNER#<id>    | PROFILE      |                                             |
| program  | PROGRAM#<code>  | OWNER        | makes program codes unique                  |
| key      | KEY#<key_id>    | KEY          | the one item a key's status lives on        |
| key ref  | PARTNER#<id>    | KEY#<key_id> | lists a partner's keys; never changes       |
| request  | REQUEST#<id>    | REQUEST      | an admin POST's idempotency record          |
| budget   | PARTNER#<id>    | RATE_BUDGET  | its rate limit's bucket (rate_budget_store) |

An admin POST writes its request record in the same transaction as what it creates, so a
retry finds either both or neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.errors import Conflict, NotFound
from pointsnet.partners.models import ApiKey, Partner, PartnerSigning
from pointsnet.partners.ports import RecordedRequest, RequestRecorded
from pointsnet.partners.rate_limits import RateLimit
from pointsnet.store.dynamo import TableStore, from_item, to_item, to_values, translate_client_error
from pointsnet.store.rate_budget_store import limit_update


class DirectoryStore(TableStore):
    def create_partner(self, partner: Partner, request: RecordedRequest | None = None) -> None:
        """The partner and its program code are claimed together, or not at all."""
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(
                        {"pk": f"PARTNER#{partner.partner_id}", "sk": "PROFILE"}
                        # A new partner has the default limit, whatever it is when read.
                        | partner.model_dump(mode="json", exclude_none=True, exclude={"rate_limit"})
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
        self._transact_with_request(
            actions,
            request,
            f"partner {partner.partner_id} or program {partner.program} already exists",
        )

    def get_partner(self, partner_id: str) -> Partner | None:
        item = self._get(f"PARTNER#{partner_id}", "PROFILE")
        return Partner.model_validate(item) if item else None

    def set_signing(self, partner_id: str, signing: PartnerSigning) -> Partner:
        """Replace what the partner's requests must be signed with; the partner as it is now."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"PARTNER#{partner_id}", "sk": "PROFILE"}),
                UpdateExpression="SET signing = :signing",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_values({":signing": signing.model_dump(mode="json")}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise NotFound(f"no partner {partner_id}") from exc
            raise translate_client_error(exc) from exc
        return Partner.model_validate(from_item(response["Attributes"]))

    def list_partners(self) -> list[Partner]:
        # The directory is small (one item per partner, program and key); a scan is fine here.
        partners = [
            Partner.model_validate(item)
            for item in self._scan(
                FilterExpression="sk = :profile",
                ExpressionAttributeValues=to_values({":profile": "PROFILE"}),
            )
        ]
        return sorted(partners, key=lambda partner: partner.partner_id)

    def create_key(self, key: ApiKey, request: RecordedRequest | None = None) -> None:
        """The key and the reference that lists it under its partner, written together."""
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(
                        {"pk": f"KEY#{key.key_id}", "sk": "KEY"} | key.model_dump(mode="json")
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(
                        {
                            "pk": f"PARTNER#{key.partner_id}",
                            "sk": f"KEY#{key.key_id}",
                            "key_id": key.key_id,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        self._transact_with_request(actions, request, f"key {key.key_id} already exists")

    def list_keys(self, partner_id: str) -> list[ApiKey]:
        """A partner's keys, oldest first, revoked ones included."""
        references = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_values(
                {":pk": f"PARTNER#{partner_id}", ":prefix": "KEY#"}
            ),
            ConsistentRead=True,
        )
        key_ids = [str(item["key_id"]) for item in references if "key_id" in item]
        stored = self._batch_get(
            [{"pk": f"KEY#{key_id}", "sk": "KEY"} for key_id in key_ids], ConsistentRead=True
        )
        keys = [ApiKey.model_validate(item) for item in stored]
        return sorted(keys, key=lambda key: (key.created_at, key.key_id))

    def set_rate_limit(self, partner_id: str, limit: RateLimit) -> Partner:
        """Set the partner's rate limit on its profile and on its rate budget, together."""
        actions = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": to_item({"pk": f"PARTNER#{partner_id}", "sk": "PROFILE"}),
                    "UpdateExpression": "SET rate_limit = :limit",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": to_values({":limit": limit.model_dump()}),
                }
            },
            limit_update(partner_id, self.table_name, limit),
        ]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise NotFound(f"no partner {partner_id}") from exc
            raise translate_client_error(exc) from exc
        partner = self.get_partner(partner_id)
        if partner is None:
            raise NotFound(f"no partner {partner_id}")
        return partner

    def get_request(self, request_id: str) -> RecordedRequest | None:
        item = self._get(f"REQUEST#{request_id}", "REQUEST")
        return RecordedRequest.model_validate(item) if item else None

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

    def _transact_with_request(
        self, actions: list[dict[str, Any]], request: RecordedRequest | None, conflict: str
    ) -> None:
        """Write `actions`, and the request record first when there is one."""
        if request is not None:
            actions = [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(
                            {"pk": f"REQUEST#{request.request_id}", "sk": "REQUEST"}
                            | request.model_dump(mode="json")
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                *actions,
            ]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise translate_client_error(exc) from exc
            reasons = exc.response.get("CancellationReasons") or []
            if (
                request is not None
                and reasons
                and reasons[0].get("Code") == "ConditionalCheckFailed"
            ):
                raise RequestRecorded(self._recorded(request.request_id, reasons[0])) from exc
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                raise Conflict(conflict) from exc
            raise translate_client_error(exc) from exc

    def _recorded(self, request_id: str, reason: Mapping[str, Any]) -> RecordedRequest:
        item = reason.get("Item")
        if item:
            return RecordedRequest.model_validate(from_item(item))
        existing = self.get_request(request_id)
        if existing is None:
            raise Conflict(f"request {request_id} changed while it was being recorded")
        return existing
