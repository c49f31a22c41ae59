"""Each program's rule set in force, cached for at most `cache_seconds`.

Every rule-priced earn reads its program's rules; caching keeps that off the request's reads,
at the price of a new set taking up to `cache_seconds` to apply (the transaction records the
version that priced it, so which set gave which points is never in doubt).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pointsnet.rules.models import StoredRuleSet
from pointsnet.rules.ports import RuleSets


class RuleBook:
    def __init__(
        self,
        store: RuleSets,
        cache_seconds: float = 30,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, StoredRuleSet]] = {}
        self._lock = threading.Lock()

    def rules_for(self, program: str) -> StoredRuleSet:
        now = self.monotonic()
        with self._lock:
            cached = self._cache.get(program)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        stored = self.store.get_rules(program) or StoredRuleSet.empty(program)
        with self._lock:
            self._cache[program] = (now, stored)
        return stored
