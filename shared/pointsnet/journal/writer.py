"""Writing a stream batch to the journal: one object per shard and day the batch touches.

Each object takes the next position of its shard's day, and S3's conditional write (only if
the key is new) is what serialises writers: whoever writes position n+1 owns it, and then
moves the head to it. A writer that stopped between the two leaves the head behind; the next
writer finds the position taken, moves the head over that object, and tries the next one.

A batch Lambda delivers again is recognised by its signature (the records' sequence numbers)
among the head's recent objects and writes nothing; a halved retry of a failed batch can write
some records a second time, and readers count each sequence number once.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from pointsnet.journal.layout import object_key
from pointsnet.journal.ports import (
    RECENT_OBJECTS,
    ChainHead,
    HeadMoved,
    JournalHeads,
    JournalObjects,
)
from pointsnet.journal.records import (
    JournalRecord,
    ObjectHeader,
    decode,
    digest,
    encode,
    genesis,
    sequence_order,
    signature_of,
)

# Positions a writer tries before it gives up (and the batch is retried): far more than the
# writers that can race for one shard's day.
MAX_ATTEMPTS = 50


class JournalBusy(Exception):
    """A shard's day kept moving under the writer; the batch is retried."""


class JournalWriter:
    def __init__(
        self,
        objects: JournalObjects,
        heads: JournalHeads,
        shards: int,
        read_records: Callable[[Iterable[Mapping[str, Any]]], list[JournalRecord]] | None = None,
    ) -> None:
        self.objects = objects
        self.heads = heads
        self.shards = shards
        # How a stream batch as Lambda delivers it becomes journal records (the data layer's).
        self.read_records = read_records

    def append_stream(self, stream_records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
        assert self.read_records is not None, "a writer of stream batches needs read_records"
        records = self.read_records(stream_records)
        return {"records": len(records), "objects": self.append(records)}

    def append(self, records: Sequence[JournalRecord]) -> int:
        """Journal a batch; the number of objects written (0 when it was journaled before)."""
        groups: dict[tuple[date, int], list[JournalRecord]] = defaultdict(list)
        for record in records:
            groups[(record.day, record.shard(self.shards))].append(record)
        written = 0
        for (day, shard), group in sorted(groups.items()):
            group.sort(key=lambda record: sequence_order(record.sequence))
            written += self._append_group(day, shard, group)
        return written

    def _append_group(self, day: date, shard: int, records: list[JournalRecord]) -> int:
        signature = signature_of(records)
        for _ in range(MAX_ATTEMPTS):
            head = self.heads.head(day, shard)
            if head is not None and signature in head.recent:
                return 0
            position = (head.position if head else 0) + 1
            header = ObjectHeader(
                day=day,
                shard=shard,
                position=position,
                previous=head.digest if head else genesis(day, shard),
                signature=signature,
                records=len(records),
            )
            body = encode(header, records)
            key = object_key(day, shard, position)
            if self.objects.put_new(key, body):
                self._advance(day, shard, head, position, digest(body), signature)
                return 1
            # Taken: by a concurrent writer, or by one that stopped before moving the head.
            existing = self.objects.get(key)
            if existing is not None:
                taken, _ = decode(existing)
                self._advance(day, shard, head, position, digest(existing), taken.signature)
        raise JournalBusy(f"shard {shard} of {day} kept moving")

    def _advance(
        self,
        day: date,
        shard: int,
        head: ChainHead | None,
        position: int,
        body_digest: str,
        signature: str,
    ) -> None:
        recent = (*(head.recent if head else ()), signature)[-RECENT_OBJECTS:]
        # Moved on by another writer meanwhile: the next attempt reads where it stands.
        with contextlib.suppress(HeadMoved):
            self.heads.advance(
                day, shard, ChainHead(position=position, digest=body_digest, recent=recent)
            )
