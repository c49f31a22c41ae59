"""Reading one shard's day back, and proving it whole: every position from the first to the
head is there, each object names the hash of the one before it, and the head names the last.

What does not hold is a `problem` (the object's key, and what is wrong with it) for the
journal check to report; the records read are those of every object that could be read, each
stream record once. A reader that needs only part of each record passes `keep`, which turns a
record into that part as its object is read: what a day holds then is the parts, not the
records (a shard's check of a million-entry day keeps a few hundred bytes an entry).

Objects are fetched a few at a time ahead of the one being read (`FETCH_AHEAD`), in order: a
shard's day is thousands of small objects, and one round trip after another would make the
read as slow as its count of objects times the store's latency.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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

# Objects in flight beside the one being read: enough to hide a round trip's latency, few
# enough that what waits to be read stays a few objects' bytes.
FETCH_AHEAD = 8


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
    wanted = [object_key(day, shard, at) if at in present else None for at in range(1, last + 1)]
    for position, body in enumerate(_fetched(objects, wanted), start=1):
        key = object_key(day, shard, position)
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


def _fetched(objects: JournalObjects, keys: Sequence[str | None]) -> Iterator[bytes | None]:
    """The body of each key (None for a key that is None, or an object that is gone), in order,
    with up to `FETCH_AHEAD` more being fetched meanwhile."""
    with ThreadPoolExecutor(max_workers=FETCH_AHEAD, thread_name_prefix="journal") as pool:
        ahead: deque[Future[bytes | None] | None] = deque()
        for key in keys:
            ahead.append(pool.submit(objects.get, key) if key is not None else None)
            if len(ahead) > FETCH_AHEAD:
                yield _body(ahead.popleft())
        while ahead:
            yield _body(ahead.popleft())


def _body(fetch: Future[bytes | None] | None) -> bytes | None:
    return fetch.result() if fetch is not None else None


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
