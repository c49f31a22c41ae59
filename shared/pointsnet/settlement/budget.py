"""How much one invocation of a run may read before it checkpoints, and how long it holds the
period meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

# Time kept back from the invocation's remaining time to checkpoint, finish and answer.
DEFAULT_RESERVE_MS = 3000
# How long a run may hold its period when nothing bounds its invocation.
UNBOUNDED_LEASE = timedelta(minutes=15)


@dataclass
class Budget:
    """When an invocation must stop and checkpoint: after `max_pages` pages, or when the
    remaining time falls under the reserve. Always at least one page, so a run progresses."""

    max_pages: int | None = None
    remaining_ms: Callable[[], int] | None = None
    reserve_ms: int = DEFAULT_RESERVE_MS
    pages: int = field(default=0, init=False)

    def spend(self) -> None:
        self.pages += 1

    def exhausted(self) -> bool:
        if self.pages == 0:
            return False
        if self.max_pages is not None and self.pages >= self.max_pages:
            return True
        return self.remaining_ms is not None and self.remaining_ms() < self.reserve_ms

    def lease(self) -> timedelta:
        if self.remaining_ms is None:
            return UNBOUNDED_LEASE
        return timedelta(milliseconds=self.remaining_ms()) + timedelta(seconds=30)
