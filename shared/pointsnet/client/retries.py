"""What the SDK retries, and how long it waits: exponential backoff, or a 429's Retry-After.

A retry re-sends the same Idempotency-Key, so a retried call never posts twice.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pointsnet.client.errors import PointsNetError

DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_BASE_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 5.0
# A 429's Retry-After is waited out when at most this long; a longer one is raised at once.
MAX_RETRY_AFTER_SECONDS = 30


def is_retryable(error: PointsNetError) -> bool:
    """Whether the call may be sent again: rate limited, a server error, or still in progress."""
    if error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER_SECONDS:
        # Waiting minutes inside one call helps nobody: the caller gets the wait instead.
        return False
    return (
        error.status == 429
        or error.status >= 500
        or (error.status == 409 and error.code == "request_in_progress")
    )


def backoff_seconds(attempt: int, backoff_base: float, retry_after: int | None = None) -> float:
    """How long to sleep before retry number `attempt + 1`."""
    if retry_after is not None:
        # The server said when: wait that long, and up to a tenth more so clients spread.
        return retry_after + random.uniform(0, retry_after / 10)
    delay = min(backoff_base * 2**attempt, MAX_BACKOFF_SECONDS)
    # Equal jitter: at least half the delay, so clients that failed together spread out.
    return delay / 2 + random.uniform(0, delay / 2)
