"""The ledger table through `LedgerPort`: reads, and the one atomic write with its refusals.

The item layout, and the action each write intent becomes, are in `ledger_items`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.errors import Conflict, InvalidSignature
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
from pointsnet.store.balance_items import balance_write
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
        actions, slots = _actions(self.table_name, write)
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise translate_client_error(exc) from exc
            reasons = exc.response.get("CancellationReasons") or []
            raise self._refusal(exc, slots, reasons) from exc

    def commit_each(self, writes: Sequence[LedgerWrite]) -> list[Exception | None]:
        """Each write atomically, as many to a TransactWriteItems as fit (100 items, no item
        twice); per write, None once committed or the refusal `commit` would raise.

        A transaction cancelled by some writes' conditions is sent again without them: the
        others were refused for nothing but their company.
        """
        built = [_actions(self.table_name, write) for write in writes]
        outcomes: list[Exception | None] = [None] * len(writes)
        waiting = list(range(len(writes)))
        for _ in range(COMMIT_EACH_ROUNDS):
            if not waiting:
                return outcomes
            groups, again = _packed(waiting, built)
            for group in groups:
                again += self._commit_group(group, built, outcomes)
            waiting = again
        for index in waiting:
            outcomes[index] = Conflict("the accounts are changing too fast; post the rows again")
        return outcomes

    def _commit_group(
        self,
        group: list[int],
        built: list[tuple[list[dict[str, Any]], list[tuple[str, Any]]]],
        outcomes: list[Exception | None],
    ) -> list[int]:
        """Commit `group` as one transaction; the writes to send again."""
        try:
            self.client.transact_write_items(
                TransactItems=[action for index in group for action in built[index][0]]
            )
            return []
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise translate_client_error(exc) from exc
            cancelled = exc
        reasons = cancelled.response.get("CancellationReasons") or []
        again, offset = [], 0
        for index in group:
            actions, slots = built[index]
            own = reasons[offset : offset + len(actions)]
            offset += len(actions)
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in own):
                outcomes[index] = self._refusal(cancelled, slots, own)
            else:
                again.append(index)
        return again

    def _refusal(
        self, exc: ClientError, slots: list[tuple[str, Any]], reasons: Sequence[Mapping[str, Any]]
    ) -> Exception:
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
                    return EntryExists(existing)
        if any(kind == "signature" for kind, _, _ in failed):
            # Sent again under another Idempotency-Key: whatever else moved, this never posts.
            return InvalidSignature(
                "this v1 signature was already used with another Idempotency-Key"
            )
        for kind, subject, old in failed:
            if kind == "guard":
                return GuardFailed(subject.name)
            if kind == "obligation":
                return GuardFailed("obligation")
            if kind == "balance":
                return BalanceMoved(balance_from_item(from_item(old)) if old else None)
            if kind == "reversal":
                values = from_item(old) if old else {}
                return ReversalMoved(
                    int(values["remaining"]) if "remaining" in values else None,
                    int(values.get("version", 0)),
                )
            if kind == "hold":
                return HoldMoved()
            if kind == "lot":
                return LotMoved()
        codes = [reason.get("Code", "None") for reason in reasons]
        if "TransactionConflict" in codes or any(kind == "tier" for kind, _, _ in failed):
            # Another transaction held one of the items: read again and retry, as for a move.
            return BalanceMoved(None)
        return translate_client_error(exc)


# Rounds of `commit_each`: a write goes again only when its company was refused, or another
# transaction held one of its items, or it shared an item with a write before it.
COMMIT_EACH_ROUNDS = 8
MAX_TRANSACTION_ITEMS = 100


def _actions(table: str, write: LedgerWrite) -> tuple[list[dict[str, Any]], list[tuple[str, Any]]]:
    """The TransactWriteItems actions of one write, each with what it writes (its slot)."""
    actions: list[dict[str, Any]] = []
    slots: list[tuple[str, Any]] = []
    for entry in write.entries:
        actions.append({"Put": entry_put(table, entry)})
        slots.append(("entry", entry))
    for balance in write.balances:
        actions.append(balance_write(table, balance))
        slots.append(("balance", balance))
    if write.reversal is not None:
        actions.append({"Update": reversal_update(table, write.reversal)})
        slots.append(("reversal", write.reversal))
    for guard in write.guards:
        actions.append(guard_action(table, guard))
        slots.append(("guard", guard))
    for obligation in write.obligations:
        actions.append(obligation_put(table, obligation))
        slots.append(("obligation", obligation))
    for change in write.lots:
        actions.append(lot_action(table, change))
        slots.append(("lot", change))
    if write.hold is not None:
        actions.append(hold_action(table, write.hold))
        slots.append(("hold", write.hold))
    for tier_change in write.tier_changes:
        actions.append({"Put": tier_change_put(table, tier_change)})
        slots.append(("tier", tier_change))
    for notice in write.notices:
        actions.append({"Put": notice_put(table, notice)})
        slots.append(("notice", notice))
    if write.signature is not None:
        actions.append({"Put": signature_put(table, write.signature)})
        slots.append(("signature", write.signature))
    return actions, slots


def _packed(
    waiting: list[int], built: list[tuple[list[dict[str, Any]], list[tuple[str, Any]]]]
) -> tuple[list[list[int]], list[int]]:
    """The writes in order, in groups of at most 100 items that touch no item twice, and the
    writes sharing an item with one before them: they wait for the next round (DynamoDB
    refuses two actions on one item in a transaction)."""
    groups: list[list[int]] = []
    deferred: list[int] = []
    group: list[int] = []
    size = 0
    round_keys: set[tuple[str, str, str]] = set()
    for index in waiting:
        actions = built[index][0]
        own = {_item_key(action) for action in actions}
        if own & round_keys:
            deferred.append(index)
            continue
        if size + len(actions) > MAX_TRANSACTION_ITEMS:
            groups.append(group)
            group, size = [], 0
        group.append(index)
        size += len(actions)
        round_keys |= own
    if group:
        groups.append(group)
    return groups, deferred


def _item_key(action: dict[str, Any]) -> tuple[str, str, str]:
    (operation,) = action.values()
    key = operation.get("Key") or operation["Item"]
    return (operation["TableName"], key["pk"]["S"], key["sk"]["S"])
