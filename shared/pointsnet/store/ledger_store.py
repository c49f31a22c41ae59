"""The ledger table through `LedgerPort`: reads, and the one atomic write with its refusals.

The item layout, and the action each write intent becomes, are in `ledger_items`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.errors import InvalidSignature
from pointsnet.ledger.models import (
    ExpiringNotice,
    HoldState,
    InactiveNotice,
    TierChange,
)
from pointsnet.ledger.port import (
    BalanceMoved,
    DueItem,
    EntryExists,
    GuardFailed,
    HoldMoved,
    LedgerWrite,
    LotMoved,
    OutboxItem,
    ReversalMoved,
    ReversalState,
    StoredBalance,
    StoredEntry,
    StoredLot,
)
from pointsnet.store.dynamo import (
    TableStore,
    from_item,
    to_item,
    to_values,
    translate_client_error,
)
from pointsnet.store.ledger_items import (
    BALANCE_SK,
    DUE_INDEX,
    DUE_SHARDS,
    ENTRY_SK,
    HISTORY_INDEX,
    HOLD_SK,
    LOT_PREFIX,
    NOTICE_PREFIX,
    REVERSAL_SK,
    SIGNATURE_PREFIX,
    SIGNATURE_SK,
    TIER_PREFIX,
    balance_from_item,
    balance_update,
    decode_cursor,
    encode_cursor,
    entry_from_item,
    entry_put,
    guard_action,
    hold_action,
    hold_from_item,
    lot_action,
    lot_from_item,
    notice_put,
    reversal_update,
    signature_put,
    tier_change_put,
)
from pointsnet.store.ledger_keys import account_pk, entry_pk
from pointsnet.store.network_store import obligation_put


class LedgerStore(TableStore):
    # reads

    def get_balance(self, account: str) -> StoredBalance | None:
        item = self._get(account_pk(account), BALANCE_SK)
        return balance_from_item(item) if item else None

    def get_entry(self, transaction_id: str) -> StoredEntry | None:
        item = self._get(entry_pk(transaction_id), ENTRY_SK)
        return entry_from_item(item) if item else None

    def get_reversal_state(self, transaction_id: str) -> ReversalState | None:
        item = self._get(entry_pk(transaction_id), REVERSAL_SK)
        if not item:
            return None
        return ReversalState(remaining=int(item["remaining"]), version=int(item["version"]))

    def signature_use(self, digest: str) -> str | None:
        """The transaction a remembered v1 signature authorised, if it is remembered."""
        item = self._get(f"{SIGNATURE_PREFIX}{digest}", SIGNATURE_SK)
        return str(item["transaction_id"]) if item else None

    def get_hold(self, hold_id: str) -> HoldState | None:
        item = self._get(entry_pk(hold_id), HOLD_SK)
        return hold_from_item(item) if item else None

    def lots(self, account: str) -> list[StoredLot]:
        """The member's open lots, soonest-expiring first (a few dozen at most)."""
        return [
            lot_from_item(item)
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :lot)",
                ExpressionAttributeValues=to_values(
                    {":pk": account_pk(account), ":lot": LOT_PREFIX}
                ),
                ConsistentRead=True,
            )
        ]

    def due(self, kind: str, until: datetime) -> Iterator[DueItem]:
        """Every item of `kind` due by `until`, shard by shard, earliest first in each."""
        bound = rfc3339(until) + "~"  # after every key of that instant
        for shard in range(DUE_SHARDS):
            for item in self._query(
                IndexName=DUE_INDEX,
                KeyConditionExpression="gsi2pk = :pk AND gsi2sk <= :until",
                ExpressionAttributeValues=to_values(
                    {":pk": f"DUE#{kind}#{shard:02d}", ":until": bound}
                ),
            ):
                yield DueItem(kind=kind, pk=item["pk"], sk=item["sk"], due_at=item["gsi2sk"])

    def history(
        self, account: str, limit: int, cursor: str | None = None
    ) -> tuple[list[StoredEntry], str | None]:
        """Entries of one member account, newest first, and the cursor of the next page."""
        request: dict[str, Any] = {
            "IndexName": HISTORY_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": to_values({":pk": account_pk(account)}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = to_item(decode_cursor(cursor, account_pk(account)))
        items, last = self._query_page(**request)
        entries = [entry_from_item(item) for item in items]
        return entries, (encode_cursor(from_item(last)) if last else None)

    def scan_segment(
        self, segment: int, segments: int
    ) -> Iterator[StoredEntry | StoredBalance | StoredLot | HoldState]:
        """One segment of a parallel scan of every entry, balance, lot and hold (the audit's)."""
        return self.scan(lots_and_holds=True, segment=(segment, segments))

    def scan(
        self, *, lots_and_holds: bool = False, segment: tuple[int, int] | None = None
    ) -> Iterator[StoredEntry | StoredBalance | StoredLot | HoldState]:
        """Every entry and balance (and lot and hold), page by page: memory stays flat."""
        request: dict[str, Any] = {
            "FilterExpression": "sk IN (:entry, :balance)",
            "ExpressionAttributeValues": to_values({":entry": ENTRY_SK, ":balance": BALANCE_SK}),
        }
        if lots_and_holds:
            request["FilterExpression"] = "sk IN (:entry, :balance, :hold) OR begins_with(sk, :lot)"
            request["ExpressionAttributeValues"] = to_values(
                {
                    ":entry": ENTRY_SK,
                    ":balance": BALANCE_SK,
                    ":hold": HOLD_SK,
                    ":lot": LOT_PREFIX,
                }
            )
        if segment is not None:
            request["Segment"], request["TotalSegments"] = segment
        for item in self._scan(**request):
            if item["sk"] == ENTRY_SK:
                yield entry_from_item(item)
            elif item["sk"] == BALANCE_SK:
                yield balance_from_item(item)
            elif item["sk"] == HOLD_SK:
                yield hold_from_item(item)
            else:
                yield lot_from_item(item)

    @staticmethod
    def outbox_item(new_image: Mapping[str, Any]) -> OutboxItem | None:
        """What a stream record's new image holds, if it is something to publish."""
        item = from_item(new_image)
        sk = str(item.get("sk", ""))
        if sk == ENTRY_SK:
            return entry_from_item(item)
        if sk.startswith(TIER_PREFIX):
            return TierChange.model_validate(item["change"])
        if sk.startswith(f"{NOTICE_PREFIX}inactive#"):
            return InactiveNotice.model_validate(item["notice"])
        if sk.startswith(NOTICE_PREFIX):
            return ExpiringNotice.model_validate(item["notice"])
        return None

    # the one write

    def commit(self, write: LedgerWrite) -> None:
        """Write every entry, balance change, lot, hold, counter and guard atomically, or nothing.

        Raises EntryExists when a transaction id was already posted (an
        idempotent retry), BalanceMoved, ReversalMoved, LotMoved or HoldMoved when a
        concurrent request changed them first, GuardFailed when a guard's condition fails,
        and InvalidSignature when the v1 signature already authorised another transaction.
        """
        actions: list[dict[str, Any]] = []
        slots: list[tuple[str, Any]] = []
        for entry in write.entries:
            actions.append({"Put": entry_put(self.table_name, entry)})
            slots.append(("entry", entry))
        for balance in write.balances:
            actions.append({"Update": balance_update(self.table_name, balance)})
            slots.append(("balance", balance))
        if write.reversal is not None:
            actions.append({"Update": reversal_update(self.table_name, write.reversal)})
            slots.append(("reversal", write.reversal))
        for guard in write.guards:
            actions.append(guard_action(self.table_name, guard))
            slots.append(("guard", guard))
        for obligation in write.obligations:
            actions.append(obligation_put(self.table_name, obligation))
            slots.append(("obligation", obligation))
        for change in write.lots:
            actions.append(lot_action(self.table_name, change))
            slots.append(("lot", change))
        if write.hold is not None:
            actions.append(hold_action(self.table_name, write.hold))
            slots.append(("hold", write.hold))
        for tier_change in write.tier_changes:
            actions.append({"Put": tier_change_put(self.table_name, tier_change)})
            slots.append(("tier", tier_change))
        for notice in write.notices:
            actions.append({"Put": notice_put(self.table_name, notice)})
            slots.append(("notice", notice))
        if write.signature is not None:
            actions.append({"Put": signature_put(self.table_name, write.signature)})
            slots.append(("signature", write.signature))
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
                    entry_from_item(from_item(old))
                    if old
                    else self.get_entry(subject.transaction.transaction_id)
                )
                if existing is not None:
                    raise EntryExists(existing) from exc
        if any(kind == "signature" for kind, _, _ in failed):
            # Sent again under another Idempotency-Key: whatever else moved, this never posts.
            raise InvalidSignature(
                "this v1 signature was already used with another Idempotency-Key"
            ) from exc
        for kind, subject, old in failed:
            if kind == "guard":
                raise GuardFailed(subject.name) from exc
            if kind == "obligation":
                raise GuardFailed("obligation") from exc
            if kind == "balance":
                raise BalanceMoved(balance_from_item(from_item(old)) if old else None) from exc
            if kind == "reversal":
                values = from_item(old) if old else {}
                raise ReversalMoved(
                    int(values["remaining"]) if "remaining" in values else None,
                    int(values.get("version", 0)),
                ) from exc
            if kind == "hold":
                raise HoldMoved() from exc
            if kind == "lot":
                raise LotMoved() from exc
        codes = [reason.get("Code", "None") for reason in reasons]
        if "TransactionConflict" in codes or any(kind == "tier" for kind, _, _ in failed):
            # Another transaction held one of the items: read again and retry, as for a move.
            raise BalanceMoved(None) from exc
        raise translate_client_error(exc) from exc
