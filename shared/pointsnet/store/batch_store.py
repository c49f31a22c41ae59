"""Batch earns' first answers on the ledger table (`BATCH#<id>`), kept 24 hours by TTL:
`BatchStore` implements the network's `BatchRecordPort`."""

from __future__ import annotations

from pointsnet.ledger.models import Balance, Transaction
from pointsnet.network.earn_batches import BatchRecord
from pointsnet.store.dynamo import TableStore
from pointsnet.store.ledger_items import ENTRY_SK, entry_from_item
from pointsnet.store.ledger_keys import entry_pk

RECORD_SK = "BATCH"


class BatchStore(TableStore):
    def get_batch(self, batch_id: str) -> BatchRecord | None:
        item = self._get(f"BATCH#{batch_id}", RECORD_SK)
        return BatchRecord.model_validate_json(str(item["record"])) if item else None

    def keep_batch(self, record: BatchRecord) -> BatchRecord:
        item = {
            "pk": f"BATCH#{record.batch_id}",
            "sk": RECORD_SK,
            # One string attribute: ~100 bytes an earn, so a full batch's record is ~10 KB.
            "record": record.model_dump_json(exclude_none=True),
            "expires_ttl": int(record.kept_until.timestamp()),
        }
        existing = self._put_new(item)
        return BatchRecord.model_validate_json(str(existing["record"])) if existing else record

    def posted_earn(self, transaction_id: str) -> tuple[Transaction, Balance] | None:
        item = self._get(entry_pk(transaction_id), ENTRY_SK)
        if item is None:
            return None
        entry = entry_from_item(item)
        return entry.transaction, entry.balance_after
