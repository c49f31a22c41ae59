"""Partners' rate budgets in the directory table: one item per partner, next to its profile.

| item        | pk           | sk          | attributes                                      |
| ----------- | ------------ | ----------- | ----------------------------------------------- |
| rate budget | PARTNER#<id> | RATE_BUDGET | tat (Unix microseconds); rate, burst (when set) |

A lease is one conditional UpdateItem (see `pointsnet.partners.rate_limits`); a refused one
answers the item as it was (ReturnValuesOnConditionCheckFailure), so the instance learns the
bucket's state and the partner's limit without a read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.partners.rate_limits import BudgetState, LeaseOutcome, LeaseRequest, RateLimit
from pointsnet.store.dynamo import TableStore, from_item, to_item, to_values, translate_client_error

BUDGET_SK = "RATE_BUDGET"
_NAMES = {"#tat": "tat", "#rate": "rate", "#burst": "burst"}


def budget_key(partner_id: str) -> dict[str, Any]:
    return to_item({"pk": f"PARTNER#{partner_id}", "sk": BUDGET_SK})


class RateBudgetStore(TableStore):
    def lease(self, request: LeaseRequest) -> LeaseOutcome:
        values: dict[str, Any] = {":increment": request.increment_us, ":floor": request.floor_us}
        if request.reset:
            update = "SET #tat = :reset_to"
            condition = "(attribute_not_exists(#tat) OR #tat < :floor)"
            values = {
                ":reset_to": request.now_us + request.increment_us,
                ":floor": request.floor_us,
            }
        else:
            update = "SET #tat = #tat + :increment"
            condition = "#tat BETWEEN :floor AND :highest"
            values[":highest"] = request.highest_us
        if request.expected is None:
            condition += " AND attribute_not_exists(#rate)"
        else:
            condition += " AND #rate = :rate AND #burst = :burst"
            values |= {":rate": request.expected.rate, ":burst": request.expected.burst}
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=budget_key(request.partner_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(update + condition),
                ExpressionAttributeValues=to_values(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate_client_error(exc) from exc
            found: Mapping[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
            return LeaseOutcome(granted=False, state=_state(found))
        return LeaseOutcome(granted=True, state=_state(response.get("Attributes") or {}))

    def budget(self, partner_id: str) -> BudgetState:
        """The partner's budget item as stored (an empty state when it has none)."""
        return _state_of(self._get(f"PARTNER#{partner_id}", BUDGET_SK) or {})


def limit_update(partner_id: str, table_name: str, limit: RateLimit) -> dict[str, Any]:
    """The transaction action that sets a partner's limit on its budget item (its bucket's
    state is kept: a lease under the old limit is refused by its condition and retried)."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": budget_key(partner_id),
            "UpdateExpression": "SET #rate = :rate, #burst = :burst",
            "ExpressionAttributeNames": {"#rate": "rate", "#burst": "burst"},
            "ExpressionAttributeValues": to_values({":rate": limit.rate, ":burst": limit.burst}),
        }
    }


def _names(expression: str) -> dict[str, str]:
    return {name: field for name, field in _NAMES.items() if name in expression}


def _state(item: Mapping[str, Any]) -> BudgetState:
    return _state_of(from_item(item))


def _state_of(values: Mapping[str, Any]) -> BudgetState:
    tat = values.get("tat")
    limit = (
        RateLimit(rate=int(values["rate"]), burst=int(values["burst"]))
        if "rate" in values and "burst" in values
        else None
    )
    return BudgetState(tat_us=int(tat) if tat is not None else None, limit=limit)
