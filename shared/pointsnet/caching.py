"""What a request reads on every call and may see a little late: kept for `seconds`.

Keys, policies and rule sets are read by every posting; caching them keeps those reads off
the request, at the price of a change taking up to `seconds` to apply (the bound each
caller documents: revocation, a new policy, a new rule set).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A cache keyed by what callers send (key ids) must not grow without bound.
MAX_ENTRIES = 10_000


class TimedCache(Generic[K, V]):
    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.monotonic = monotonic
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[K], V]) -> V:
        """The value loaded for `key` at most `seconds` ago, or a fresh one from `load`."""
        now = self.monotonic()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and now - cached[0] < self.seconds:
            return cached[1]
        value = load(key)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now, value)
        return value
