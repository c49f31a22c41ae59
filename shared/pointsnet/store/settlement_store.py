"""The settlement table: `SettlementStore` implements settlement's `SettlementPort`.

Settlement table (`pk`/`sk`, plus the `ByPeriod` index that lists settlements):

| item             | pk                  | sk         | notes                                 |
| ---------------- | ------------------- | ---------- | ------------------------------------- |
| settlement       | STL#<id>            | SETTLEMENT | zlib JSON document, summary, version; |
|                  |                     |            | gsi1 = SETTLEMENTS, <start>#<end>#<id> |
| period lease     | RUN#<settlement id> | STATE      | the run holding the period, until     |
| run record       | RUNREC#<run id>     | RUN        | status, period, items; expires (TTL)  |
| shard tally      | RUNREC#<run id>     | TALLY#<day>#<shard> | one check's findings and totals |
| journal head     | JOURNAL#<day>#<shard> | HEAD     | the end of a shard's day's chain      |
| request record   | REQUEST#<id>        | REQUEST    | first answer to a POST; expires (TTL) |

Reconciliation's reads of the ledger are `ledger_day_reader`'s, of the journal
`journal_bucket`'s (which keeps the journal heads here); reports are kept by `report_bucket`.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.settlement.models import Period, Settlement, SettlementStatus, SettlementSummary
from pointsnet.settlement.ports import (
    RecordedResponse,
    RequestRecorded,
    RunBusy,
    SettlementMoved,
)
from pointsnet.settlement.run_state import RunRecord, ShardTally
from pointsnet.store.dynamo import (
    TableStore,
    from_item,
    to_item,
    to_values,
    translate_client_error,
)

LIST_INDEX = "ByPeriod"
# Run records and tallies are kept a month (TTL), for GET /v1/settlement-runs/{run_id}.
RUN_RECORD_SECONDS = 31 * 86400
LIST_PK = "SETTLEMENTS"
BATCH_WRITE_LIMIT = 25


class SettlementStore(TableStore):
    """Settlements, request records, and runs: their records, tallies and period leases."""

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

    def claim_run(self, settlement_id: str, owner: str, now: int, lease_until: int) -> None:
        """Hold the period for the run `owner`; RunBusy while another run's lease lasts."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": f"RUN#{settlement_id}", "sk": "STATE"}),
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression=(
                    "attribute_not_exists(pk) OR lease_until < :now OR lease_owner = :owner"
                ),
                ExpressionAttributeValues=to_values(
                    {":owner": owner, ":until": lease_until, ":now": now}
                ),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise RunBusy(settlement_id) from exc
            raise translate_client_error(exc) from exc

    def release_run(self, settlement_id: str, owner: str) -> None:
        """Free the period at once (a run that failed), if `owner` still holds it."""
        self._end_lease(settlement_id, owner)

    def end_run(self, settlement_id: str, owner: str) -> None:
        self._end_lease(settlement_id, owner)

    def _end_lease(self, settlement_id: str, owner: str) -> None:
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

    def put_run(self, record: RunRecord) -> None:
        item = {
            "pk": f"RUNREC#{record.run_id}",
            "sk": "RUN",
            "record": record.model_dump_json(),
            "expires_at": int(record.started_at.timestamp()) + RUN_RECORD_SECONDS,
        }
        try:
            self.client.put_item(TableName=self.table_name, Item=to_item(item))
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def get_run(self, run_id: str) -> RunRecord | None:
        item = self._get(f"RUNREC#{run_id}", "RUN")
        return RunRecord.model_validate_json(item["record"]) if item else None

    def put_tally(self, run_id: str, tally: ShardTally) -> None:
        item = {
            "pk": f"RUNREC#{run_id}",
            "sk": f"TALLY#{tally.day.isoformat()}#{tally.shard:04d}",
            "tally": zlib.compress(tally.model_dump_json().encode()),
            "expires_at": int(time.time()) + RUN_RECORD_SECONDS,
        }
        try:
            self.client.put_item(TableName=self.table_name, Item=to_item(item))
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def tallies(self, run_id: str) -> list[ShardTally]:
        return [
            ShardTally.model_validate_json(zlib.decompress(_bytes(item["tally"])))
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :tally)",
                ExpressionAttributeValues=to_values(
                    {":pk": f"RUNREC#{run_id}", ":tally": "TALLY#"}
                ),
                ConsistentRead=True,
            )
        ]

    # plumbing

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
