"""Imports on AWS: `ImportStore` keeps each import and its batch tallies on the directory
table (`IMPORT#<id>`), `ImportBucket` its files on S3 (`imports/<partner>/<id>/`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.imports.models import BatchTally, ImportRecord, ImportStatus, RefusedRow
from pointsnet.imports.ports import ImportMoved
from pointsnet.store.dynamo import (
    TableStore,
    from_item,
    to_item,
    to_values,
    translate_client_error,
)
from pointsnet.store.report_bucket import s3_client

RECORD_SK = "IMPORT"
TALLY_PREFIX = "BATCH#"
LINK_SECONDS = 3600


def _pk(import_id: str) -> str:
    return f"IMPORT#{import_id}"


class ImportStore(TableStore):
    def create(self, record: ImportRecord) -> ImportRecord:
        existing = self._put_new(
            {"pk": _pk(record.import_id), "sk": RECORD_SK, **_record_item(record)}
        )
        return _record(existing) if existing else record

    def get(self, import_id: str) -> ImportRecord | None:
        item = self._get(_pk(import_id), RECORD_SK)
        return _record(item) if item else None

    def mark_running(
        self, import_id: str, expected: ImportStatus, started_at: datetime
    ) -> ImportRecord:
        return self._update(
            import_id,
            "SET #status = :running, started_at = :at, runs = runs + :one REMOVE failure",
            {
                ":running": ImportStatus.RUNNING.value,
                ":at": rfc3339(started_at),
                ":one": 1,
                ":expected": expected.value,
            },
            "#status = :expected",
        )

    def record_batch(self, import_id: str, tally: BatchTally) -> bool:
        refused = len(tally.refused)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": to_item(
                                {
                                    "pk": _pk(import_id),
                                    "sk": f"{TALLY_PREFIX}{tally.first_line:010d}",
                                    "tally": tally.model_dump(mode="json"),
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": to_item({"pk": _pk(import_id), "sk": RECORD_SK}),
                            "UpdateExpression": "ADD rows_read :read, rows_posted :posted, "
                            "rows_refused :refused",
                            "ExpressionAttributeValues": to_values(
                                {":read": tally.rows, ":posted": tally.posted, ":refused": refused}
                            ),
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise translate_client_error(exc) from exc
        return True

    def tallies(self, import_id: str) -> Iterator[BatchTally]:
        for item in self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :batch)",
            ExpressionAttributeValues=to_values({":pk": _pk(import_id), ":batch": TALLY_PREFIX}),
        ):
            yield BatchTally.model_validate(item["tally"])

    def finish(
        self,
        import_id: str,
        status: ImportStatus,
        completed_at: datetime,
        counts: tuple[int, int, int] | None,
        failure: str | None = None,
    ) -> ImportRecord:
        sets = ["#status = :status", "completed_at = :at"]
        values: dict[str, Any] = {":status": status.value, ":at": rfc3339(completed_at)}
        if counts is not None:
            sets += ["rows_read = :read", "rows_posted = :posted", "rows_refused = :refused"]
            values |= dict(zip((":read", ":posted", ":refused"), counts, strict=True))
        if failure is not None:
            sets.append("failure = :failure")
            values[":failure"] = failure[:1000]
        return self._update(import_id, "SET " + ", ".join(sets), values, None)

    def _update(
        self, import_id: str, expression: str, values: dict[str, Any], condition: str | None
    ) -> ImportRecord:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": to_item({"pk": _pk(import_id), "sk": RECORD_SK}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_values(values),
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            request["ConditionExpression"] = condition
        try:
            response = self.client.update_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ImportMoved(import_id) from exc
            raise translate_client_error(exc) from exc
        return _record(from_item(response["Attributes"]))


def _record_item(record: ImportRecord) -> dict[str, Any]:
    values = record.model_dump(mode="json", exclude_none=True)
    values["fingerprint"] = record.fingerprint
    return values


def _record(item: dict[str, Any]) -> ImportRecord:
    values = {key: value for key, value in item.items() if key not in ("pk", "sk")}
    return ImportRecord.model_validate(values)


class ImportBucket:
    """An import's file (`rows.csv`, uploaded by the partner) and its result (`refused.csv`)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or s3_client()

    def source(self, record: ImportRecord) -> dict[str, str]:
        return {"bucket": self.bucket, "key": _key(record, "rows.csv")}

    def upload_url(self, record: ImportRecord) -> str:
        url: str = self.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": _key(record, "rows.csv")},
            ExpiresIn=LINK_SECONDS,
        )
        return url

    def uploaded(self, record: ImportRecord) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=_key(record, "rows.csv"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise translate_client_error(exc) from exc
        return True

    def write_result(self, record: ImportRecord, refused: Iterable[RefusedRow]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["line", "member_id", "reference", "code", "message"])
        for row in sorted(refused, key=lambda row: row.line):
            writer.writerow([row.line, row.member_id, row.reference, row.code, row.message])
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=_key(record, "refused.csv"),
                Body=out.getvalue().encode(),
                ContentType="text/csv",
            )
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def result_url(self, record: ImportRecord) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": _key(record, "refused.csv")},
            ExpiresIn=LINK_SECONDS,
        )
        return url


def _key(record: ImportRecord, name: str) -> str:
    return f"imports/{record.partner_id}/{record.import_id}/{name}"
