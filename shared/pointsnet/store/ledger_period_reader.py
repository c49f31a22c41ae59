"""Reconciliation's reads of the ledger table: `LedgerPeriodReader` implements settlement's
`LedgerPeriodPort`.

It reads in pages whose cursors the run keeps in its checkpoint: the period's entries (a
filtered scan: the ledger has no time index), the period's obligations (keyed by day and
shard), and each touched account's entries (`ByAccount`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pointsnet.clock import rfc3339
from pointsnet.ledger.check import fold_postings
from pointsnet.ledger.models import AS_STORED, Obligation, Posting, Transaction
from pointsnet.settlement.models import Period
from pointsnet.settlement.ports import AccountState, NegativeBalance, Page, PeriodEntry
from pointsnet.store.dynamo import TableStore, to_values
from pointsnet.store.ledger_items import BALANCE_SK, ENTRY_SK, HISTORY_INDEX
from pointsnet.store.ledger_keys import account_pk, entry_pk
from pointsnet.store.network_store import OBLIGATION_SHARDS, obligation_pk, obligation_shard
from pointsnet.store.run_cursors import (
    decode_position,
    decode_start_key,
    encode_position,
    encode_start_key,
)


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
            request["ExclusiveStartKey"] = decode_start_key(cursor)
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
        return Page(items=items, cursor=encode_start_key(last) if last else None)

    def obligations_page(self, period: Period, cursor: str | None, limit: int) -> Page[Obligation]:
        """One page of one day's shard; the cursor walks shard by shard, day by day."""
        position = decode_position(cursor) if cursor else {"day": period.period_start.isoformat()}
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
        return Page(items=items, cursor=encode_position(following) if following else None)

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
        """The sums of the postings of every entry in the member account's history."""
        entries = self._query(
            IndexName=HISTORY_INDEX,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_values({":pk": account_pk(account)}),
            ProjectionExpression="#txn.postings",
            ExpressionAttributeNames={"#txn": "transaction"},
        )
        postings = (
            Posting(account=str(posting["account"]), points=int(posting["points"]))
            for entry in entries
            for posting in entry.get("transaction", {}).get("postings", [])
        )
        return fold_postings(postings).of(account)


def _transaction(value: Any) -> Transaction:
    # As stored: a transaction whose postings do not balance is read, so a check can name it.
    return Transaction.model_validate(value, context={AS_STORED: True})
