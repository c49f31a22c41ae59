"""Where the journal keeps what: one folder per UTC day and account shard, objects numbered in
the order they join the shard's chain.

    journal/day=2026-12-01/shard=0007/00000001.jsonl.gz

An account's entries all land in one shard (a stable hash of the account), so a check of one
shard and day sees each account's whole day. The shard count is `JOURNAL_SHARDS` (the
template's `JournalShards`), fixed before the first posting.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from functools import lru_cache

PREFIX = "journal/"
DEFAULT_SHARDS = 64
SUFFIX = ".jsonl.gz"


@lru_cache(maxsize=1)
def journal_shards() -> int:
    """The deployment's shard count, from the environment template.yaml sets."""
    return int(os.environ.get("JOURNAL_SHARDS", DEFAULT_SHARDS))


def shard_of(account: str, shards: int) -> int:
    """The shard an account (or, for a removal, an entry's key) belongs to."""
    return int.from_bytes(hashlib.sha256(account.encode()).digest()[:8], "big") % shards


def shard_prefix(day: date, shard: int) -> str:
    return f"{PREFIX}day={day.isoformat()}/shard={shard:04d}/"


def object_key(day: date, shard: int, position: int) -> str:
    return f"{shard_prefix(day, shard)}{position:08d}{SUFFIX}"


def position_of(key: str) -> int | None:
    """The chain position a key names; None for a key the journal never writes."""
    name = key.rsplit("/", 1)[-1]
    if not name.endswith(SUFFIX) or not name.removesuffix(SUFFIX).isdigit():
        return None
    return int(name.removesuffix(SUFFIX))
