"""Settlements: the settlement table, the reports bucket, and reconciliation's reads of the ledger.

Settlement table (`pk`/`sk`, plus the `ByPeriod` index that lists settlements):

| item             | pk                  | sk         | notes                                 |
| ---------------- | ------------------- | ---------- | ------------------------------------- |
| settlement       | STL#<id>            | SETTLEMENT | zlib JSON document, summary, version; |
|                  |                     |            | gsi1 = SETTLEMENTS, <start>#<end>#<id> |
| run checkpoint   | RUN#<settlement id> | STATE      | lease owner and expiry, state JSON    |
| touched account  | RUNACCT#<run id>    | <account>  | an account to check; expires (TTL)    |
| request record   | REQUEST#<id>        | REQUEST    | first answer to a POST; expires (TTL) |

Reconciliation reads the ledger table in pages whose cursors it keeps in its checkpoint:
the period's entries (a filtered scan: the ledger has no time index), the period's
obligations (keyed by day and shard), and each touched account's entries (`ByAccount`).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Generic, TypeVar

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel

from pointsnet.clock import rfc3339
from pointsnet.ledger.accounts import pending_of
from pointsnet.ledger.models import AS_STORED, Obligation, Transaction
from pointsnet.settlement.models import Period, Settlement, SettlementStatus, SettlementSummary
from pointsnet.store.dynamo import (
    TableStore,
    from_item,
    to_item,
    to_values,
    translate_client_error,
)
from pointsnet.store.ledger_keys import account_pk, entry_pk
from pointsnet.store.ledger_store import BALANCE_SK, ENTRY_SK, HISTORY_INDEX
from pointsnet.store.network_store import OBLIGATION_SHARDS, obligation_pk, obligation_shard

T = TypeVar("T")

LIST_INDEX = "ByPeriod"
LIST_PK = "SETTLEMENTS"
BATCH_WRITE_LIMIT = 25


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a read, and the cursor to resume after it (None: nothing is left)."""

    items: list[T]
    cursor: str | None


@dataclass(frozen=True)
class PeriodEntry:
    transaction: Transaction
    account: str  # the member account whose history lists the entry


@dataclass(frozen=True)
class NegativeBalance:
    account: str
    available: int
    pending: int


@dataclass(frozen=True)
class AccountState:
    """A member account's stored balance beside the sums of all its entries' postings."""

    account: str
    stored: tuple[int, int] | None  # (available, pending); None: no balance item
    folded: tuple[int, int]  # postings to the account, and to its pending sub-account


class RecordedResponse(BaseModel):
    """The first answer to a settlement POST, kept under the caller's Idempotency-Key."""

    request_id: str
    fingerprint: str
    status: int
    body: str
    created_at: str
    expires_at: int


class SettlementMoved(Exception):
    """The settlement changed (or appeared) since it was read."""


class RequestRecorded(Exception):
    def __init__(self, existing: RecordedResponse) -> None:
        super().__init__(existing.request_id)
        self.existing = existing


class RunBusy(Exception):
    """Another invocation holds this period's run."""


@cache
def s3_client() -> Any:
    return boto3.client("s3")


@cache
def lambda_client() -> Any:
    return boto3.client("lambda")


class SettlementStore(TableStore):
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
            request["ExclusiveStartKey"] = _decode(cursor)
        items, last = self._query_page(**request)
        return Page(
            items=[str(item["sk"]) for item in items], cursor=_encode(last) if last else None
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


class LedgerPeriodReader(TableStore):
    """What reconciliation reads of the ledger table, page by page."""

    def __init__(self, ledger_table: str, client: Any = None) -> None:
        super().__init__(ledger_table, client)

    def entries_page(
        self, period: Period, cursor: str | None, limit: int
    ) -> Page[PeriodEntry | NegativeBalance]:
        """The period's entries, and every negative balance of the ledger, from one scan page."""
        request: dict[str, Any] = {
            "Limit": limit,
            "FilterExpression": (
                "(sk = :entry AND #txn.#created BETWEEN :first AND :last) OR "
                "(sk = :balance AND (#available < :zero OR #pending < :zero))"
            ),
            "ExpressionAttributeNames": {
                "#txn": "transaction",
                "#created": "created_at",
                "#available": "available",
                "#pending": "pending",
            },
            "ExpressionAttributeValues": to_values(
                {
                    ":entry": ENTRY_SK,
                    ":balance": BALANCE_SK,
                    ":first": period.first_moment,
                    ":last": period.last_moment,
                    ":zero": 0,
                }
            ),
        }
        if cursor:
            request["ExclusiveStartKey"] = _decode(cursor)
        found, last = self._scan_page(**request)
        items: list[PeriodEntry | NegativeBalance] = []
        for item in found:
            if item["sk"] == ENTRY_SK:
                items.append(PeriodEntry(_transaction(item["transaction"]), str(item["account"])))
            else:
                items.append(
                    NegativeBalance(
                        account=str(item["pk"]).removeprefix("ACCT#"),
                        available=int(item.get("available", 0)),
                        pending=int(item.get("pending", 0)),
                    )
                )
        return Page(items=items, cursor=_encode(last) if last else None)

    def obligations_page(self, period: Period, cursor: str | None, limit: int) -> Page[Obligation]:
        """One page of one day's shard; the cursor walks shard by shard, day by day."""
        position = _decode_json(cursor) if cursor else {"day": period.period_start.isoformat()}
        day = date.fromisoformat(str(position["day"]))
        shard = int(position.get("shard", 0))
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_values({":pk": obligation_pk(day, shard)}),
            "ConsistentRead": True,
            "Limit": limit,
        }
        if position.get("key"):
            request["ExclusiveStartKey"] = position["key"]
        found, last = self._query_page(**request)
        items = [Obligation.model_validate(item["obligation"]) for item in found]
        if last:
            following: dict[str, Any] | None = {"day": day.isoformat(), "shard": shard, "key": last}
        elif shard + 1 < OBLIGATION_SHARDS:
            following = {"day": day.isoformat(), "shard": shard + 1}
        else:
            following = next(
                ({"day": later.isoformat()} for later in period.days() if later > day), None
            )
        return Page(items=items, cursor=_encode_json(following) if following else None)

    def obligations_of(self, transactions: Sequence[Transaction]) -> dict[str, Obligation]:
        """The recorded obligation of each transaction that has one, by transaction id."""
        keys = [
            {
                "pk": obligation_pk(
                    transaction.created_at.date(), obligation_shard(transaction.transaction_id)
                ),
                "sk": f"{rfc3339(transaction.created_at)}#{transaction.transaction_id}",
            }
            for transaction in transactions
        ]
        found = {}
        for item in self._batch_get(keys, ProjectionExpression="obligation"):
            obligation = Obligation.model_validate(item["obligation"])
            found[obligation.transaction_id] = obligation
        return found

    def transactions(self, transaction_ids: Sequence[str]) -> dict[str, Transaction]:
        keys = [{"pk": entry_pk(txn_id), "sk": ENTRY_SK} for txn_id in set(transaction_ids)]
        found = {}
        for item in self._batch_get(
            keys, ProjectionExpression="#txn", ExpressionAttributeNames={"#txn": "transaction"}
        ):
            transaction = _transaction(item["transaction"])
            found[transaction.transaction_id] = transaction
        return found

    def account_states(self, accounts: Sequence[str]) -> list[AccountState]:
        """Each account's stored balance and the sum of all its entries' postings to it."""
        keys = [{"pk": account_pk(account), "sk": BALANCE_SK} for account in accounts]
        stored = {
            str(item["pk"]).removeprefix("ACCT#"): (
                int(item.get("available", 0)),
                int(item.get("pending", 0)),
            )
            for item in self._batch_get(
                keys,
                ProjectionExpression="pk, #available, #pending",
                ExpressionAttributeNames={"#available": "available", "#pending": "pending"},
            )
        }
        return [
            AccountState(account=account, stored=stored.get(account), folded=self._fold(account))
            for account in accounts
        ]

    def _fold(self, account: str) -> tuple[int, int]:
        entries = self._query(
            IndexName=HISTORY_INDEX,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_values({":pk": account_pk(account)}),
            ProjectionExpression="#txn.postings",
            ExpressionAttributeNames={"#txn": "transaction"},
        )
        pending = pending_of(account)
        available_total = pending_total = 0
        for entry in entries:
            for posting in entry.get("transaction", {}).get("postings", []):
                if posting["account"] == account:
                    available_total += int(posting["points"])
                elif posting["account"] == pending:
                    pending_total += int(posting["points"])
        return available_total, pending_total


class ReportBucket:
    """Rendered reports in S3 (encrypted at rest by the bucket's default encryption)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or s3_client()

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise translate_client_error(exc) from exc
        body: bytes = response["Body"].read()
        return body


class LambdaContinuation:
    """Hands the rest of a run to a fresh invocation of the same function."""

    def __init__(self, function_name: str, client: Any = None) -> None:
        self.function_name = function_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or lambda_client()

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=json.dumps(event).encode(),
            )
        except ClientError as exc:
            raise translate_client_error(exc) from exc


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


def _transaction(value: Any) -> Transaction:
    # As stored: a transaction whose postings do not balance is read, so a check can name it.
    return Transaction.model_validate(value, context={AS_STORED: True})


def _bytes(value: Any) -> bytes:
    # A Binary attribute comes back as boto3's Binary, which converts to bytes.
    return bytes(value)


def _encode(key: dict[str, Any]) -> str:
    return _encode_json({"key": key})


def _decode(cursor: str) -> dict[str, Any]:
    key: dict[str, Any] = _decode_json(cursor)["key"]
    return key


def _encode_json(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def _decode_json(cursor: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    return value
