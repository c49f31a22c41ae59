"""Each program's rule set in force, cached for at most `cache_seconds`.

Every rule-priced earn reads its program's rules; caching keeps that off the request's reads,
at the price of a new set taking up to `cache_seconds` to apply (the transaction records the
version that priced it, so which set gave which points is never in doubt).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pointsnet.caching import TimedCache
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
        self._cache: TimedCache[str, StoredRuleSet] = TimedCache(cache_seconds, monotonic)

    def rules_for(self, program: str) -> StoredRuleSet:
        return self._cache.get(program, self._load)

    def _load(self, program: str) -> StoredRuleSet:
        return self.store.get_rules(program) or StoredRuleSet.empty(program)
