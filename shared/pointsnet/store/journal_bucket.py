"""The journal on AWS: `JournalBucket` keeps its objects in S3 (Object Lock, compliance mode, so
none can be changed or deleted), `JournalHeads` each shard's day's chain head in the settlement
table, and `journal_records` reads the ledger stream's records into the journal's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.journal.layout import PREFIX
from pointsnet.journal.ports import ChainHead, HeadMoved
from pointsnet.journal.records import BalanceImage, JournalEvent, JournalRecord
from pointsnet.store.dynamo import TableStore, from_item, to_item, to_values, translate_client_error
from pointsnet.store.ledger_items import BALANCE_SK, ENTRY_SK, entry_from_item
from pointsnet.store.report_bucket import ReportBucket


class JournalBucket(ReportBucket):
    """Journal objects in S3: written only where none is, read and listed like any object."""

    def put_new(self, key: str, body: bytes) -> bool:
        try:
            # Object Lock wants a checksum on every write; If-None-Match makes the write a claim.
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
                ChecksumAlgorithm="SHA256",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return False
            raise translate_client_error(exc) from exc
        return True

    def days(self) -> list[date]:
        """Every UTC day the journal holds objects for (one LIST per 1,000 days)."""
        found: list[date] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=PREFIX, Delimiter="/"
            ):
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"].removeprefix(PREFIX).rstrip("/")
                    if name.startswith("day="):
                        found.append(date.fromisoformat(name.removeprefix("day=")))
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        return found

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                found += [item["Key"] for item in page.get("Contents", [])]
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        return found


class JournalHeads(TableStore):
    """One item per shard's day: `JOURNAL#<day>#<shard>` / `HEAD`."""

    def head(self, day: date, shard: int) -> ChainHead | None:
        item = self._get(_head_pk(day, shard), "HEAD")
        if item is None:
            return None
        return ChainHead(
            position=int(item["position"]),
            digest=str(item["digest"]),
            recent=tuple(item.get("recent", ())),
        )

    def advance(self, day: date, shard: int, head: ChainHead) -> None:
        item = {
            "pk": _head_pk(day, shard),
            "sk": "HEAD",
            "position": head.position,
            "digest": head.digest,
            "recent": list(head.recent),
        }
        condition = "attribute_not_exists(pk)" if head.position == 1 else "#position = :previous"
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": to_item(item),
            "ConditionExpression": condition,
        }
        if head.position > 1:
            request["ExpressionAttributeNames"] = {"#position": "position"}
            request["ExpressionAttributeValues"] = to_values({":previous": head.position - 1})
        try:
            self.client.put_item(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise HeadMoved(f"{day} {shard}") from exc
            raise translate_client_error(exc) from exc


def _head_pk(day: date, shard: int) -> str:
    return f"JOURNAL#{day.isoformat()}#{shard:04d}"


def journal_records(stream_records: Iterable[Mapping[str, Any]]) -> list[JournalRecord]:
    """The entry and balance records of a DynamoDB stream batch, as Lambda delivers them."""
    records = []
    for record in stream_records:
        change = record["dynamodb"]
        keys = from_item(change["Keys"])
        image = from_item(change["NewImage"]) if change.get("NewImage") else None
        common: dict[str, Any] = {
            "sequence": str(change["SequenceNumber"]),
            "event": JournalEvent(record["eventName"]),
            "recorded_at": datetime.fromtimestamp(
                float(change["ApproximateCreationDateTime"]), UTC
            ),
        }
        if keys.get("sk") == ENTRY_SK:
            transaction_id = str(keys["pk"]).removeprefix("TXN#")
            entry = entry_from_item(image) if image else None
            records.append(JournalRecord(transaction_id=transaction_id, entry=entry, **common))
        elif keys.get("sk") == BALANCE_SK:
            account = str(keys["pk"]).removeprefix("ACCT#")
            balance = (
                BalanceImage(
                    account=account,
                    available=int(image.get("available", 0)),
                    pending=int(image.get("pending", 0)),
                    entries=int(image.get("entries", 0)),
                )
                if image
                else None
            )
            records.append(JournalRecord(account=account, balance=balance, **common))
    return records
