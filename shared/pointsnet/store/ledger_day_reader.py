"""What a shard's check reads of the ledger table: `LedgerDayReader` implements settlement's
`LedgerDayPort` with a few key reads per account (its balance, the entry before the day and
its latest entry, by the keys entries and balances name them by, or through `ByAccount`) and
one query of the shard's obligations of the day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pointsnet.clock import rfc3339
from pointsnet.journal.layout import journal_shards
from pointsnet.ledger.models import Obligation
from pointsnet.ledger.port import StoredEntry
from pointsnet.settlement.ports import EntryEnd, StoredEnd
from pointsnet.store.dynamo import TableStore, to_values
from pointsnet.store.ledger_items import BALANCE_SK, ENTRY_SK, HISTORY_INDEX, entry_from_item
from pointsnet.store.ledger_keys import account_pk, entry_pk
from pointsnet.store.network_store import obligation_pk


class LedgerDayReader(TableStore):
    def __init__(self, ledger_table: str, client: Any = None, shards: int | None = None) -> None:
        super().__init__(ledger_table, client)
        self.shards = shards or journal_shards()

    def entry_before(self, account: str, moment: datetime) -> StoredEntry | None:
        return self._last_entry(
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk < :moment",
            ExpressionAttributeValues=to_values(
                {":pk": account_pk(account), ":moment": rfc3339(moment)}
            ),
        )

    def latest_entry(self, account: str) -> StoredEntry | None:
        return self._last_entry(
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_values({":pk": account_pk(account)}),
        )

    def _last_entry(self, **request: Any) -> StoredEntry | None:
        # The index keeps every attribute of an entry, so the entry comes from the index itself.
        found, _ = self._query_page(
            IndexName=HISTORY_INDEX, ScanIndexForward=False, Limit=1, **request
        )
        return entry_from_item(found[0]) if found else None

    def ends(self, accounts: Sequence[str]) -> dict[str, StoredEnd]:
        keys = [{"pk": account_pk(account), "sk": BALANCE_SK} for account in accounts]
        return {
            str(item["pk"]).removeprefix("ACCT#"): StoredEnd(
                available=int(item.get("available", 0)),
                pending=int(item.get("pending", 0)),
                entries=int(item.get("entries", 0)),
                last_entry=item.get("last_entry"),
            )
            for item in self._batch_get(
                keys,
                ProjectionExpression="pk, #available, #pending, #entries, #last",
                ExpressionAttributeNames={
                    "#available": "available",
                    "#pending": "pending",
                    "#entries": "entries",
                    "#last": "last_entry",
                },
            )
        }

    def entry_ends(self, transaction_ids: Sequence[str]) -> dict[str, EntryEnd]:
        # BatchGetItem refuses a request that names a key twice.
        keys = [{"pk": entry_pk(txn), "sk": ENTRY_SK} for txn in sorted(set(transaction_ids))]
        # Only what a link needs: an entry's whole transaction is most of its bytes.
        items = self._batch_get(
            keys,
            ProjectionExpression="pk, account, #number, balance_after, #txn.created_at",
            ExpressionAttributeNames={"#number": "number", "#txn": "transaction"},
        )
        ends = {}
        for item in items:
            try:
                balance = item["balance_after"]
                ends[str(item["pk"]).removeprefix("TXN#")] = EntryEnd(
                    account=item["account"],
                    number=int(item.get("number", 0)),
                    after=(int(balance["available"]), int(balance.get("pending", 0))),
                    created_at=datetime.fromisoformat(item["transaction"]["created_at"]),
                )
            except (KeyError, TypeError, ValueError):
                continue  # an entry edited out of shape: the query reads it, as it always did
        return ends

    def shard_obligations(self, day: date, shard: int) -> list[Obligation]:
        return [
            Obligation.model_validate(item["obligation"])
            for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_values({":pk": obligation_pk(day, shard)}),
                ConsistentRead=True,
            )
        ]

    def entry(self, transaction_id: str) -> StoredEntry | None:
        item = self._get(entry_pk(transaction_id), ENTRY_SK)
        return entry_from_item(item) if item else None
