"""The ledger table: immutable entries, member balances and reversal counters.

Item layout (one table, `pk`/`sk`, plus the `ByAccount` index):

| item            | pk                | sk        | notes                                      |
| --------------- | ----------------- | --------- | ------------------------------------------ |
| entry           | TXN#<id>          | ENTRY     | written once; gsi1 = member account, time  |
| reversal state  | TXN#<id>          | REVERSAL  | points of <id> not yet reversed            |
| member balance  | ACCT#<account>    | BALANCE   | available, pending, version                |

The transaction id is derived from the partner and its Idempotency-Key, so the
entry's `attribute_not_exists` condition is what makes a request post once.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from pointsnet.errors import ValidationFailed
from pointsnet.ledger.models import AS_STORED, Balance, Transaction, rfc3339
from pointsnet.store.dynamo import (
    dynamodb_client,
    from_item,
    to_item,
    to_values,
    translate_client_error,
)

HISTORY_INDEX = "ByAccount"
ENTRY_SK = "ENTRY"
REVERSAL_SK = "REVERSAL"
BALANCE_SK = "BALANCE"


def entry_pk(transaction_id: str) -> str:
    return f"TXN#{transaction_id}"


def account_pk(account: str) -> str:
    return f"ACCT#{account}"


class StoredEntry(BaseModel):
    """A transaction as stored, with what its first response needs to be replayed exactly."""

    transaction: Transaction
    balance_after: Balance
    fingerprint: str
    account: str


class StoredBalance(BaseModel):
    account: str
    program: str
    available: int
    pending: int = 0
    version: int


@dataclass(frozen=True)
class BalanceUpdate:
    """Move a member balance from a known version; never below zero."""

    account: str
    program: str
    partner_id: str
    member_id: str
    expected_version: int  # 0: the balance item must not exist yet
    available_delta: int
    pending_delta: int = 0


@dataclass(frozen=True)
class ReversalUpdate:
    """Consume points of a transaction's reversible remainder, from a known version."""

    transaction_id: str
    expected_version: int  # 0: nothing reversed yet
    remaining_after: int


@dataclass(frozen=True)
class Guard:
    """Another item that a ledger write must check or change in the same transaction."""

    name: str
    action: dict[str, Any]  # one TransactWriteItems action: Put, Update or ConditionCheck


@dataclass(frozen=True)
class LedgerWrite:
    entries: tuple[StoredEntry, ...]
    balances: tuple[BalanceUpdate, ...]
    reversal: ReversalUpdate | None = None
    guards: tuple[Guard, ...] = ()


class GuardFailed(Exception):
    def __init__(self, name: str, current: dict[str, Any] | None) -> None:
        super().__init__(name)
        self.name = name
        self.current = current


class EntryExists(Exception):
    def __init__(self, existing: StoredEntry) -> None:
        super().__init__(existing.transaction.transaction_id)
        self.existing = existing


class BalanceMoved(Exception):
    """The balance changed since it was read; `current` is what it is now."""

    def __init__(self, current: StoredBalance | None) -> None:
        super().__init__("balance moved")
        self.current = current


class ReversalMoved(Exception):
    def __init__(self, remaining: int | None, version: int) -> None:
        super().__init__("reversal state moved")
        self.remaining = remaining
        self.version = version


@dataclass(frozen=True)
class ReversalState:
    remaining: int
    version: int


class LedgerStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()

    # reads

    def get_balance(self, account: str) -> StoredBalance | None:
        item = self._get(account_pk(account), BALANCE_SK)
        return _balance_from_item(item) if item else None

    def get_entry(self, transaction_id: str) -> StoredEntry | None:
        item = self._get(entry_pk(transaction_id), ENTRY_SK)
        return _entry_from_item(item) if item else None

    def get_reversal_state(self, transaction_id: str) -> ReversalState | None:
        item = self._get(entry_pk(transaction_id), REVERSAL_SK)
        if not item:
            return None
        return ReversalState(remaining=int(item["remaining"]), version=int(item["version"]))

    def history(
        self, account: str, limit: int, cursor: str | None = None
    ) -> tuple[list[StoredEntry], str | None]:
        """Entries of one member account, newest first, and the cursor of the next page."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": HISTORY_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": to_values({":pk": account_pk(account)}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = to_item(_decode_cursor(cursor, account_pk(account)))
        try:
            page = self.client.query(**kwargs)
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        entries = [_entry_from_item(from_item(item)) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return entries, (_encode_cursor(from_item(last)) if last else None)

    def scan(self) -> Iterator[StoredEntry | StoredBalance]:
        """Every entry and balance, page by page: memory stays flat however large the table."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "sk IN (:entry, :balance)",
            "ExpressionAttributeValues": to_values({":entry": ENTRY_SK, ":balance": BALANCE_SK}),
        }
        while True:
            try:
                page = self.client.scan(**kwargs)
            except ClientError as exc:
                raise translate_client_error(exc) from exc
            for raw in page.get("Items", []):
                item = from_item(raw)
                if item["sk"] == ENTRY_SK:
                    yield _entry_from_item(item)
                else:
                    yield _balance_from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # the one write

    def commit(self, write: LedgerWrite) -> None:
        """Write every entry, balance change, reversal counter and guard atomically, or nothing.

        Raises EntryExists when a transaction id was already posted (an
        idempotent retry), BalanceMoved or ReversalMoved when a concurrent
        request changed them first, GuardFailed when a guard's condition fails.
        """
        actions: list[dict[str, Any]] = []
        slots: list[tuple[str, Any]] = []
        for entry in write.entries:
            actions.append({"Put": self._entry_put(entry)})
            slots.append(("entry", entry))
        for balance in write.balances:
            actions.append({"Update": self._balance_update(balance)})
            slots.append(("balance", balance))
        if write.reversal is not None:
            actions.append({"Update": self._reversal_update(write.reversal)})
            slots.append(("reversal", write.reversal))
        for guard in write.guards:
            actions.append(guard.action)
            slots.append(("guard", guard))
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise translate_client_error(exc) from exc
            self._raise_cancellation(exc, slots)

    def _raise_cancellation(self, exc: ClientError, slots: list[tuple[str, Any]]) -> None:
        reasons = exc.response.get("CancellationReasons") or []
        failed = [
            (kind, subject, reason.get("Item"))
            for (kind, subject), reason in zip(slots, reasons, strict=False)
            if reason.get("Code") == "ConditionalCheckFailed"
        ]
        # An existing entry means the request already posted: that outranks every other failure.
        for kind, subject, old in failed:
            if kind == "entry":
                existing = (
                    _entry_from_item(from_item(old))
                    if old
                    else self.get_entry(subject.transaction.transaction_id)
                )
                if existing is not None:
                    raise EntryExists(existing) from exc
        for kind, subject, old in failed:
            if kind == "guard":
                raise GuardFailed(subject.name, from_item(old) if old else None) from exc
            if kind == "balance":
                raise BalanceMoved(_balance_from_item(from_item(old)) if old else None) from exc
            if kind == "reversal":
                values = from_item(old) if old else {}
                raise ReversalMoved(
                    int(values["remaining"]) if "remaining" in values else None,
                    int(values.get("version", 0)),
                ) from exc
        codes = [reason.get("Code", "None") for reason in reasons]
        if "TransactionConflict" in codes:
            # Another transaction held one of the items: read again and retry, as for a move.
            raise BalanceMoved(None) from exc
        raise translate_client_error(exc) from exc

    def _entry_put(self, entry: StoredEntry) -> dict[str, Any]:
        txn = entry.transaction
        item = {
            "pk": entry_pk(txn.transaction_id),
            "sk": ENTRY_SK,
            "gsi1pk": account_pk(entry.account),
            "gsi1sk": f"{rfc3339(txn.created_at)}#{txn.transaction_id}",
            "account": entry.account,
            "transaction": txn.model_dump(mode="json", exclude_none=True),
            "balance_after": entry.balance_after.model_dump(mode="json"),
            "fingerprint": entry.fingerprint,
        }
        return {
            "TableName": self.table_name,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _balance_update(self, change: BalanceUpdate) -> dict[str, Any]:
        debit = max(0, -change.available_delta)
        values: dict[str, Any] = {
            ":da": change.available_delta,
            ":dp": change.pending_delta,
            ":one": 1,
            ":program": change.program,
            ":partner": change.partner_id,
            ":member": change.member_id,
        }
        if change.expected_version == 0:
            condition = "attribute_not_exists(pk)"
            update = (
                "SET available = :da, pending = :dp, version = :one, "
                "program = :program, partner_id = :partner, member_id = :member"
            )
        else:
            # The version makes the balance after the write known without reading it back;
            # the available guard is what keeps a balance from ever going negative.
            condition = "version = :expected AND available >= :debit"
            update = (
                "SET available = available + :da, pending = pending + :dp, version = version + :one"
            )
            values[":expected"] = change.expected_version
            values[":debit"] = debit
            for unused in (":program", ":partner", ":member"):
                values.pop(unused)
        return {
            "TableName": self.table_name,
            "Key": to_item({"pk": account_pk(change.account), "sk": BALANCE_SK}),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": to_values(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _reversal_update(self, change: ReversalUpdate) -> dict[str, Any]:
        values: dict[str, Any] = {":remaining": change.remaining_after, ":one": 1}
        if change.expected_version == 0:
            condition = "attribute_not_exists(pk)"
            update = "SET remaining = :remaining, version = :one"
        else:
            condition = "version = :expected"
            update = "SET remaining = :remaining, version = version + :one"
            values[":expected"] = change.expected_version
        return {
            "TableName": self.table_name,
            "Key": to_item({"pk": entry_pk(change.transaction_id), "sk": REVERSAL_SK}),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": to_values(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name,
                Key=to_item({"pk": pk, "sk": sk}),
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        item = response.get("Item")
        return from_item(item) if item else None


def _balance_from_item(item: dict[str, Any]) -> StoredBalance:
    return StoredBalance(
        account=item["pk"].removeprefix("ACCT#"),
        program=item["program"],
        available=int(item["available"]),
        pending=int(item.get("pending", 0)),
        version=int(item["version"]),
    )


def _entry_from_item(item: dict[str, Any]) -> StoredEntry:
    return StoredEntry.model_validate(
        {
            "transaction": item["transaction"],
            "balance_after": item["balance_after"],
            "fingerprint": item["fingerprint"],
            "account": item["account"],
        },
        context={AS_STORED: True},
    )


def _encode_cursor(key: dict[str, Any]) -> str:
    payload = json.dumps({"s": key["gsi1sk"], "t": key["pk"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, gsi1pk: str) -> dict[str, Any]:
    """Rebuild the start key; the partition always comes from the caller, never the cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort_key, pk = payload["s"], payload["t"]
        if not isinstance(sort_key, str) or not isinstance(pk, str) or not pk.startswith("TXN#"):
            raise ValueError("cursor fields")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValidationFailed(
            "cursor is not one this API returned",
            details=[{"field": "cursor", "message": "invalid cursor"}],
        ) from exc
    return {"gsi1pk": gsi1pk, "gsi1sk": sort_key, "pk": pk, "sk": ENTRY_SK}
