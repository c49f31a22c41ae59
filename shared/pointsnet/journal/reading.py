"""Reading one shard's day back, and proving it whole: every position from the first to the
head is there, each object names the hash of the one before it, and the head names the last.

What does not hold is a `problem` (the object's key, and what is wrong with it) for the
journal check to report; the records read are those of every object that could be read, each
stream record once. A reader that needs only part of each record passes `keep`, which turns a
record into that part as its object is read: what a day holds then is the parts, not the
records (a shard's check of a million-entry day keeps a few hundred bytes an entry).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar, overload

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

Kept = TypeVar("Kept")


@dataclass
class ShardDay(Generic[Kept]):
    day: date
    shard: int
    records: list[Kept] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    objects: int = 0
    bytes_read: int = 0
    duplicates: int = 0  # records a halved retry wrote again, counted once


@overload
def read_shard_day(
    objects: JournalObjects, heads: JournalHeads, day: date, shard: int
) -> ShardDay[JournalRecord]: ...


@overload
def read_shard_day(
    objects: JournalObjects,
    heads: JournalHeads,
    day: date,
    shard: int,
    keep: Callable[[JournalRecord], Kept],
) -> ShardDay[Kept]: ...


def read_shard_day(
    objects: JournalObjects,
    heads: JournalHeads,
    day: date,
    shard: int,
    keep: Callable[[JournalRecord], Any] | None = None,
) -> ShardDay[Any]:
    result: ShardDay[Any] = ShardDay(day=day, shard=shard)
    keeping = keep or (lambda record: record)
    positions = sorted(
        position
        for key in objects.keys(shard_prefix(day, shard))
        if (position := position_of(key)) is not None
    )
    head = heads.head(day, shard)
    last = max([*positions, head.position if head else 0], default=0)
    present = set(positions)
    # By stream sequence number: the record's digest, and what is kept of it.
    seen: dict[str, tuple[bytes, Any]] = {}
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
            _keep(result, seen, record, key, keeping)
    if head is None and last:
        result.problems.append((shard_prefix(day, shard), "the journal has objects but no head"))
    elif head is not None and head.position in digests and digests[head.position] != head.digest:
        result.problems.append(
            (object_key(day, shard, head.position), "the object does not match the chain's head")
        )
    result.records = [seen[sequence][1] for sequence in sorted(seen, key=sequence_order)]
    return result


def _keep(
    result: ShardDay[Kept],
    seen: dict[str, tuple[bytes, Kept]],
    record: JournalRecord,
    key: str,
    keep: Callable[[JournalRecord], Kept],
) -> None:
    # The record as this reader serialises it: two copies are one record when their models
    # are equal, whichever writer's version wrote each line.
    fingerprint = hashlib.blake2b(
        record.model_dump_json(exclude_none=True).encode(), digest_size=16
    ).digest()
    earlier = seen.get(record.sequence)
    if earlier is None:
        seen[record.sequence] = (fingerprint, keep(record))
    elif earlier[0] == fingerprint:
        result.duplicates += 1
    else:
        result.problems.append((key, f"stream record {record.sequence} differs from its copy"))
