"""Reading one shard's day back, and proving it whole: every position from the first to the
head is there, each object names the hash of the one before it, and the head names the last.

What does not hold is a `problem` (the object's key, and what is wrong with it) for the
journal check to report; the records read are those of every object that could be read, each
stream record once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pointsnet.journal.layout import object_key, position_of, shard_prefix
from pointsnet.journal.ports import JournalHeads, JournalObjects
from pointsnet.journal.records import (
    JournalRecord,
    Unreadable,
    decode,
    digest,
    genesis,
    sequence_order,
)


@dataclass
class ShardDay:
    day: date
    shard: int
    records: list[JournalRecord] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    objects: int = 0
    bytes_read: int = 0
    duplicates: int = 0  # records a halved retry wrote again, counted once


def read_shard_day(objects: JournalObjects, heads: JournalHeads, day: date, shard: int) -> ShardDay:
    result = ShardDay(day=day, shard=shard)
    positions = sorted(
        position
        for key in objects.keys(shard_prefix(day, shard))
        if (position := position_of(key)) is not None
    )
    head = heads.head(day, shard)
    last = max([*positions, head.position if head else 0], default=0)
    present = set(positions)
    seen: dict[str, JournalRecord] = {}
    previous: str | None = genesis(day, shard)
    digests: dict[int, str] = {}
    for position in range(1, last + 1):
        key = object_key(day, shard, position)
        body = objects.get(key) if position in present else None
        if body is None:
            result.problems.append((key, "the object is missing from the journal"))
            previous = None
            continue
        result.objects += 1
        result.bytes_read += len(body)
        try:
            header, records = decode(body)
        except Unreadable as exc:
            result.problems.append((key, f"the object is not a journal object: {exc}"))
            previous = None
            continue
        if (header.day, header.shard, header.position) != (day, shard, position):
            result.problems.append((key, "the object's header names another place in the journal"))
        if previous is not None and header.previous != previous:
            result.problems.append(
                (
                    object_key(day, shard, position - 1) if position > 1 else key,
                    "the object does not match the hash the chain records for it",
                )
            )
        previous = digests[position] = digest(body)
        for record in records:
            _keep(result, seen, record, key)
    if head is None and last:
        result.problems.append((shard_prefix(day, shard), "the journal has objects but no head"))
    elif head is not None and head.position in digests and digests[head.position] != head.digest:
        result.problems.append(
            (object_key(day, shard, head.position), "the object does not match the chain's head")
        )
    result.records = sorted(seen.values(), key=lambda record: sequence_order(record.sequence))
    return result


def _keep(
    result: ShardDay, seen: dict[str, JournalRecord], record: JournalRecord, key: str
) -> None:
    earlier = seen.get(record.sequence)
    if earlier is None:
        seen[record.sequence] = record
    elif earlier == record:
        result.duplicates += 1
    else:
        result.problems.append((key, f"stream record {record.sequence} differs from its copy"))
