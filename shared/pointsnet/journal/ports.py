"""What the journal writes through: S3 for the objects, a head item per shard and day for the
end of each chain. `pointsnet.store.journal_bucket` implements both."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pydantic import ConfigDict

from pointsnet.model import Model

# Signatures of the last objects a head remembers: a batch redelivered after this many more
# objects joined its shard's day is written again, and readers count each record once.
RECENT_OBJECTS = 32


class ChainHead(Model):
    """The last object of a shard's day: its position, its hash, and what recent ones held."""

    model_config = ConfigDict(frozen=True)

    position: int
    digest: str
    recent: tuple[str, ...] = ()


class HeadMoved(Exception):
    """The head was advanced by another writer since it was read."""


class JournalObjects(Protocol):
    def put_new(self, key: str, body: bytes) -> bool:
        """Write an object that does not exist yet; False (and nothing written) if it does."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def keys(self, prefix: str) -> list[str]: ...


class JournalHeads(Protocol):
    def head(self, day: date, shard: int) -> ChainHead | None: ...

    def advance(self, day: date, shard: int, head: ChainHead) -> None:
        """Store `head` if the stored head is at `head.position - 1`; else raise HeadMoved."""
        ...
