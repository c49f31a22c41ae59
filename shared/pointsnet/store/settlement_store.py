"""The settlement table: `SettlementStore` implements settlement's `SettlementPort`.

Settlement table (`pk`/`sk`, plus the `ByPeriod` index that lists settlements):

| item             | pk                  | sk         | notes                                 |
| ---------------- | ------------------- | ---------- | ------------------------------------- |
| settlement       | STL#<id>            | SETTLEMENT | zlib JSON document, summary, version; |
|                  |                     |            | gsi1 = SETTLEMENTS, <start>#<end>#<id> |
| run checkpoint   | RUN#<settlement id> | STATE      | lease owner and expiry, state JSON    |
| touched account  | RUNACCT#<run id>    | <account>  | an account to check; expires (TTL)    |
| request record   | REQUEST#<id>        | REQUEST    | first answer to a POST; expires (TTL) |

Reconciliation's reads of the ledger are `ledger_period_reader`'s; reports are kept by
`report_bucket`, and a run is carried over by `lambda_continuation`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.settlement.models import Period, Settlement, SettlementStatus, SettlementSummary
from pointsnet.settlement.ports import (
    Page,
    RecordedResponse,
    RequestRecorded,
    RunBusy,
    SettlementMoved,
)
from pointsnet.store.dynamo import (
    TableStore,
    from_item,
    to_item,
    to_values,
    translate_client_error,
)
from pointsnet.store.run_cursors import decode_start_key, encode_start_key

LIST_INDEX = "ByPeriod"
LIST_PK = "SETTLEMENTS"
BATCH_WRITE_LIMIT = 25


class SettlementStore(TableStore):
    """Settlements, request records, and runs' checkpoints and touched accounts."""

    # settlements

    def get(self, settlement_id: str) -> Settlement | None:
        item = self._get(f"STL#{settlement_id}", "SETTLEMENT")
        return _settlement(item) if item else None

    def create(self, settlement: Settlement) -> None:
        self._put(_settlement_item(settlement), "attribute_not_exists(pk)", {})

    def replace(self, settlement: Settlement) -> None:
        """Write the next version of a settlement read at `settlement.version - 1`."""
        self._put(
            _settlement_item(settlement),
            "version = :previous",
            {":previous": settlement.version - 1},
        )

    def replace_recording(self, settlement: Settlement, record: RecordedResponse) -> None:
        """The next version and the request that made it, together or not at all."""
        actions = [
            {"Put": self._request_put(record)},
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(_settlement_item(settlement)),
                    "ConditionExpression": "version = :previous",
                    "ExpressionAttributeValues": to_values({":previous": settlement.version - 1}),
                }
            },
        ]
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise translate_client_error(exc) from exc
            reasons = exc.response.get("CancellationReasons") or []
            codes = [reason.get("Code") for reason in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                raise RequestRecorded(self._recorded(record.request_id, reasons[0])) from exc
            if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
                raise SettlementMoved(settlement.settlement_id) from exc
            raise translate_client_error(exc) from exc

    def summaries(
        self,
        status: SettlementStatus | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
    ) -> list[SettlementSummary]:
        """Settlements by period, oldest first: starting on or after `period_start`, ending on or
        before `period_end`, in `status`."""
        condition = "gsi1pk = :pk"
        values: dict[str, Any] = {":pk": LIST_PK}
        if period_start is not None:
            condition += " AND gsi1sk >= :from"
            values[":from"] = period_start.isoformat()
        filters = []
        names: dict[str, str] = {}
        if status is not None:
            filters.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = status.value
        if period_end is not None:
            filters.append("period_end <= :to")
            values[":to"] = period_end.isoformat()
        return [_summary(item) for item in self._query_index(condition, values, filters, names)]

    def overlapping(self, period: Period) -> list[SettlementSummary]:
        """Settlements of any other period that shares a day with `period`."""
        condition = "gsi1pk = :pk AND gsi1sk <= :last"
        values = {
            ":pk": LIST_PK,
            # '~' sorts after every character of "<end>#<id>", so all that start by the end.
            ":last": f"{period.period_end.isoformat()}#~",
            ":start": period.period_start.isoformat(),
        }
        found = [
            _summary(item)
            for item in self._query_index(condition, values, ["period_end >= :start"], {})
        ]
        return [
            summary
            for summary in found
            if (summary.period_start, summary.period_end)
            != (period.period_start, period.period_end)
        ]

    # request records

    def get_request(self, request_id: str) -> RecordedResponse | None:
        item = self._get(f"REQUEST#{request_id}", "REQUEST")
        return _recorded_response(item) if item else None

    def record_request(self, record: RecordedResponse) -> None:
        """Raises RequestRecorded with the first record when the request was recorded before."""
        try:
            self.client.put_item(**self._request_put(record))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                existing = self.get_request(record.request_id)
                if existing is not None:
                    raise RequestRecorded(existing) from exc
            raise translate_client_error(exc) from exc

    # runs

    def claim_run(self, settlement_id: str, owner: str, now: int, lease_until: int) -> str | None:
        """Take the period's run for `owner`; its saved state (JSON), or None for a new run.

        Raises RunBusy while another owner's lease lasts.
        """
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"RUN#{settlement_id}", "sk": "STATE"}),
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression=(
                    "attribute_not_exists(pk) OR lease_until < :now OR lease_owner = :owner"
                ),
                ExpressionAttributeValues=to_values(
                    {":owner": owner, ":until": lease_until, ":now": now}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise RunBusy(settlement_id) from exc
            raise translate_client_error(exc) from exc
        state = from_item(response.get("Attributes", {})).get("state")
        return str(state) if state else None

    def save_run(self, settlement_id: str, owner: str, state: str, lease_until: int) -> None:
        """Checkpoint the run; RunBusy if `owner` lost the lease to another invocation."""
        self._update_run(
            settlement_id,
            owner,
            "SET #state = :state, lease_until = :until",
            {":state": state, ":until": lease_until},
        )

    def release_run(self, settlement_id: str, owner: str) -> None:
        """Give the period up without touching the checkpoint, so a retry may resume at once."""
        self._update_run(settlement_id, owner, "SET lease_until = :until", {":until": 0})

    def end_run(self, settlement_id: str, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"RUN#{settlement_id}", "sk": "STATE"}),
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues=to_values({":owner": owner}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise RunBusy(settlement_id) from exc
            raise translate_client_error(exc) from exc

    def add_touched_accounts(self, run_id: str, accounts: Sequence[str], expires_at: int) -> None:
        """Remember accounts a run must check; writing one twice is harmless."""
        requests = [
            {
                "PutRequest": {
                    "Item": to_item(
                        {"pk": f"RUNACCT#{run_id}", "sk": account, "expires_at": expires_at}
                    )
                }
            }
            for account in sorted(set(accounts))
        ]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table_name: requests[start : start + BATCH_WRITE_LIMIT]}
            while pending:
                try:
                    response = self.client.batch_write_item(RequestItems=pending)
                except ClientError as exc:
                    raise translate_client_error(exc) from exc
                pending = response.get("UnprocessedItems") or {}

    def touched_accounts(self, run_id: str, cursor: str | None, limit: int) -> Page[str]:
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_values({":pk": f"RUNACCT#{run_id}"}),
            "ConsistentRead": True,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = decode_start_key(cursor)
        items, last = self._query_page(**request)
        return Page(
            items=[str(item["sk"]) for item in items],
            cursor=encode_start_key(last) if last else None,
        )

    # plumbing

    def _update_run(
        self, settlement_id: str, owner: str, update: str, values: dict[str, Any]
    ) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": to_item({"pk": f"RUN#{settlement_id}", "sk": "STATE"}),
            "UpdateExpression": update,
            "ConditionExpression": "lease_owner = :owner",
            "ExpressionAttributeValues": to_values(values | {":owner": owner}),
        }
        if "#state" in update:
            kwargs["ExpressionAttributeNames"] = {"#state": "state"}
        try:
            self.client.update_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise RunBusy(settlement_id) from exc
            raise translate_client_error(exc) from exc

    def _request_put(self, record: RecordedResponse) -> dict[str, Any]:
        item = record.model_dump() | {
            "pk": f"REQUEST#{record.request_id}",
            "sk": "REQUEST",
            "body": zlib.compress(record.body.encode()),
        }
        return {
            "TableName": self.table_name,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _recorded(self, request_id: str, reason: Mapping[str, Any]) -> RecordedResponse:
        item = reason.get("Item")
        if item:
            return _recorded_response(from_item(item))
        existing = self.get_request(request_id)
        if existing is None:
            raise SettlementMoved(request_id)
        return existing

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": to_item(item),
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = to_values(values)
        try:
            self.client.put_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise SettlementMoved(str(item["settlement_id"])) from exc
            raise translate_client_error(exc) from exc

    def _query_index(
        self,
        condition: str,
        values: dict[str, Any],
        filters: list[str],
        names: dict[str, str],
    ) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_values(values),
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if names:
            request["ExpressionAttributeNames"] = names
        return self._query(**request)


def _settlement_item(settlement: Settlement) -> dict[str, Any]:
    summary = SettlementSummary.of(settlement).model_dump(mode="json")
    return summary | {
        "pk": f"STL#{settlement.settlement_id}",
        "sk": "SETTLEMENT",
        "gsi1pk": LIST_PK,
        "gsi1sk": (
            f"{settlement.period_start.isoformat()}#{settlement.period_end.isoformat()}"
            f"#{settlement.settlement_id}"
        ),
        # Compressed: a settlement's lines and audit trail stay well inside an item's 400 KB.
        "document": zlib.compress(settlement.model_dump_json().encode()),
    }


def _settlement(item: dict[str, Any]) -> Settlement:
    return Settlement.model_validate_json(zlib.decompress(_bytes(item["document"])))


def _summary(item: dict[str, Any]) -> SettlementSummary:
    return SettlementSummary.model_validate(item)


def _recorded_response(item: dict[str, Any]) -> RecordedResponse:
    return RecordedResponse.model_validate(
        item | {"body": zlib.decompress(_bytes(item["body"])).decode()}
    )


def _bytes(value: Any) -> bytes:
    # A Binary attribute comes back as boto3's Binary, which converts to bytes.
    return bytes(value)
