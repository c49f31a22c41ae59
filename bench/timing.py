"""Time spent inside AWS SDK calls, from botocore's own events, to subtract from a handler's."""

from __future__ import annotations

import time
from typing import Any


class AwsCallTimer:
    """Process CPU and wall time between a call's first event and its response.

    `provide-client-params` is the first event `_make_api_call` emits and `after-call` (or
    `after-call-error` when no response came) the last, so the window holds parameter
    validation, serialisation, signing, the round trip (moto, in process, here) and parsing.
    """

    def __init__(self) -> None:
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self.calls = 0
        self._started: tuple[float, float] | None = None

    def install(self, events: Any) -> None:
        events.register_first("provide-client-params", self._start)
        events.register_last("after-call", self._stop)
        events.register_last("after-call-error", self._stop)

    def reset(self) -> None:
        self.cpu_seconds = self.wall_seconds = 0.0
        self.calls = 0

    def _start(self, **_: Any) -> None:
        self._started = (time.process_time(), time.perf_counter())

    def _stop(self, **_: Any) -> None:
        if self._started is None:
            return
        cpu, wall = self._started
        self._started = None
        self.cpu_seconds += time.process_time() - cpu
        self.wall_seconds += time.perf_counter() - wall
        self.calls += 1


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or below."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]
