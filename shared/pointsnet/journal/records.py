"""What the journal holds: one record per change the ledger table's stream showed to an entry,
and the object format that carries them.

An entry is written once, so nearly every record is an INSERT; a MODIFY or REMOVE of an entry
is a change no posting makes, and the journal keeps it as evidence for the checks to name.

An object is gzipped JSON Lines: a header line, then one record per line in stream order. The
gzip header carries no time, so the same records always give the same bytes and the same hash.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from pydantic import ConfigDict

from pointsnet.clock import UtcTime
from pointsnet.journal.layout import shard_of
from pointsnet.ledger.models import AS_STORED
from pointsnet.ledger.port import StoredEntry
from pointsnet.model import Model

FORMAT_VERSION = 1


class JournalEvent(StrEnum):
    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


class BalanceImage(Model):
    """A member balance as a write left it: what its entries must add up to."""

    model_config = ConfigDict(frozen=True)

    account: str
    available: int
    pending: int
    entries: int  # the number of the last entry it took


class JournalRecord(Model):
    """One stream record of an entry (`transaction_id`) or of a balance (`balance`)."""

    model_config = ConfigDict(frozen=True)

    sequence: str  # the stream record's sequence number: unique, and ordered per item
    event: JournalEvent
    recorded_at: UtcTime  # when the stream saw the change
    transaction_id: str | None = None
    entry: StoredEntry | None = None  # the entry as written; None for a removal
    balance: BalanceImage | None = None
    account: str | None = None  # a removed balance's account

    @property
    def day(self) -> date:
        """An entry's day is its transaction's; anything else's, the day the stream saw it."""
        moment = self.entry.transaction.created_at if self.entry else self.recorded_at
        return moment.date()

    @property
    def key(self) -> str:
        """The account the record belongs to (a removed entry's transaction id: its account is
        gone with it)."""
        if self.entry is not None:
            return self.entry.account
        if self.balance is not None:
            return self.balance.account
        return self.account or self.transaction_id or ""

    def shard(self, shards: int) -> int:
        return shard_of(self.key, shards)


class ObjectHeader(Model):
    model_config = ConfigDict(frozen=True)

    journal: int = FORMAT_VERSION
    day: date
    shard: int
    position: int
    previous: str  # the hash of the object before it in the chain (or the chain's genesis)
    signature: str  # which stream records it holds: a redelivered batch is known by it
    records: int


def sequence_order(sequence: str) -> tuple[int, str]:
    """Sequence numbers are decimal strings of varying length: order them as numbers."""
    return len(sequence), sequence


def signature_of(records: Sequence[JournalRecord]) -> str:
    sequences = ",".join(sorted((record.sequence for record in records), key=sequence_order))
    return hashlib.sha256(sequences.encode()).hexdigest()


def genesis(day: date, shard: int) -> str:
    """What the first object of a shard's day names as its predecessor."""
    return hashlib.sha256(f"pointsnet-journal:{day.isoformat()}:{shard}".encode()).hexdigest()


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def encode(header: ObjectHeader, records: Sequence[JournalRecord]) -> bytes:
    lines = [header.model_dump_json()]
    lines += [record.model_dump_json(exclude_none=True) for record in records]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


class Unreadable(Exception):
    """An object that is not a journal object of this format."""


def decode(body: bytes) -> tuple[ObjectHeader, list[JournalRecord]]:
    try:
        lines = gzip.decompress(body).decode().splitlines()
        header = ObjectHeader.model_validate_json(lines[0])
        records = [
            JournalRecord.model_validate(json.loads(line), context={AS_STORED: True})
            for line in lines[1:]
            if line
        ]
    except (OSError, EOFError, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise Unreadable(str(exc)) from exc
    if header.records != len(records):
        raise Unreadable(f"its header counts {header.records} records, it holds {len(records)}")
    return header, records
