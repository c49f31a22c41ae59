"""Per-partner request rate limits: a token bucket shared by every instance of every function.

The bucket is one budget item per partner (see `pointsnet.store.rate_budget_store`), kept as
GCRA's "theoretical arrival time" `tat`: the bucket holds `burst` tokens and refills at
`rate` per second, and it lacks `(tat - now) x rate` tokens right now. An instance does not
spend a write per request: it leases a block of tokens with one conditional UpdateItem and
serves requests from the block locally.

- **Lease size** follows what this instance serves of the partner: what it spent of its last
  block per second, times `PLANNED_SECONDS` (0.6 s), starting at 1 and at most doubling per
  lease, never above `max(1, rate // 10)` (a tenth of a second of the partner's rate). A busy
  instance writes once per `rate // 10` requests at best, and at least every lease lifetime
  while it serves the partner: a partner's trickle spread thin over many instances costs up
  to a write per request (see the README's known limits).
- **Lease lifetime** is `LEASE_SECONDS` (0.8 s). Tokens still unspent then are lost, not
  returned (returning them would be another write). The bucket grants at most
  `burst + rate x (W + TOLERANCE_SECONDS)` tokens in any W seconds, and a request in a
  window spends a token granted at most `LEASE_SECONDS` before it, so over any 10 s at most
  `burst + rate x 10.9 s` requests are accepted, however many instances serve the partner:
  within 10 % of `burst + rate x 10 s`, with 0.1 x rate of it left for clock skew.
- **Refused**: a lease the bucket cannot grant answers with the item as it is, so the
  instance knows when the block it wants will be free; it refuses the partner's requests
  locally until then (and for at least an exponential backoff, from 50 ms to 1 s, so that
  instances do not hammer an empty bucket), with `Retry-After` in whole seconds, at least 1.
  A nearly empty bucket grants what it has left, but not less than half a block
  (`min_block`), and the instance then pauses as if refused: an overloaded partner's
  instances write its budget a few times a second each, not once per token.
- **Idle or busy**: DynamoDB cannot compute `max(tat, now)`, so a lease either resets an idle
  bucket (`tat = now + cost`, if `tat < now - TOLERANCE_SECONDS`) or adds to a busy one
  (`tat += cost`, if `tat` is within the tolerance and the bucket has the tokens). The
  instance guesses which from what it last saw; a wrong guess is refused with the item and
  retried, a second write.
- **Limits** are stored on the budget item by the admin API, so an instance learns a new
  limit from its next lease's refused condition, without another read; a budget item
  without one has `DEFAULT_RATE_LIMIT`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import ConfigDict, Field, model_validator

from pointsnet.errors import RateLimited
from pointsnet.model import Model

MAX_RATE = 1_000_000
MICROS = 1_000_000
LEASE_SECONDS = 0.8
# A lease is sized to last this long at the instance's pace, leaving room before it expires.
PLANNED_SECONDS = 0.6
# How far behind `now` the bucket's `tat` may be for a lease to add to it rather than reset it.
TOLERANCE_SECONDS = 0.1
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 1.0
# A lease may meet a changed limit and then a bucket that emptied or filled meanwhile.
MAX_ATTEMPTS = 4
# How long an instance that found a partner's bucket busy keeps guessing it is busy.
BUSY_MEMORY_SECONDS = 1.0


class RateLimit(Model):
    """A partner's limit: `rate` requests per second, bursts up to `burst`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: int = Field(ge=1, le=MAX_RATE, description="Requests per second, sustained")
    burst: int = Field(ge=1, le=MAX_RATE, description="Requests at once after a quiet spell")

    @model_validator(mode="after")
    def _burst_at_least_rate(self) -> RateLimit:
        if self.burst < self.rate:
            raise ValueError("burst must be at least rate")
        return self

    @property
    def max_block(self) -> int:
        """The most tokens one lease takes: a tenth of a second of the rate, at least one."""
        return max(1, self.rate // 10)

    @property
    def min_block(self) -> int:
        """The fewest a lease takes of a nearly empty bucket (half a block): an overloaded
        partner's instances take its last tokens in few writes, not one by one."""
        return max(1, self.max_block // 2)


class RateLimitCommand(RateLimit):
    """`PUT /v1/partners/{partner_id}/rate-limit`: JSON integers only, `1 <= rate <= burst`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


DEFAULT_RATE_LIMIT = RateLimit(rate=100, burst=200)


@dataclass(frozen=True)
class BudgetState:
    """A partner's budget item as stored: `tat` in Unix microseconds (None: never leased) and
    the limit an admin set (None: the defaults)."""

    tat_us: int | None = None
    limit: RateLimit | None = None


@dataclass(frozen=True)
class LeaseRequest:
    """One conditional update of a partner's budget item.

    Granted only if the item still has the `expected` limit and either `reset` is asked and
    the bucket is idle (`tat` missing or below `floor_us`): then `tat = now_us + increment_us`;
    or `reset` is not asked, the bucket is busy (`tat >= floor_us`) and has the tokens
    (`tat <= highest_us`): then `tat += increment_us`.
    """

    partner_id: str
    expected: RateLimit | None
    reset: bool
    tokens: int
    now_us: int
    increment_us: int
    floor_us: int
    highest_us: int


@dataclass(frozen=True)
class LeaseOutcome:
    granted: bool
    state: BudgetState  # after the update when granted; as found when refused


class RateBudgets(Protocol):
    def lease(self, request: LeaseRequest) -> LeaseOutcome: ...


def grants(request: LeaseRequest, state: BudgetState, exists: bool = True) -> bool:
    """Whether the budget item in `state` satisfies the request's condition (what the store's
    condition expression says, for fakes and for reasoning)."""
    if state.limit != request.expected:
        return False
    if request.reset:
        return not exists or state.tat_us is None or state.tat_us < request.floor_us
    return state.tat_us is not None and request.floor_us <= state.tat_us <= request.highest_us


@dataclass
class _Lease:
    """What one instance knows and holds of one partner's budget."""

    limit: RateLimit | None = None  # as last seen on the budget item
    tat_us: int | None = None  # as last seen; the item's tat only grows
    tokens: int = 0
    granted: int = 0  # size of the block being spent
    granted_at: float = 0.0
    expires_at: float = 0.0
    next_size: int = 1
    refused_until: float = 0.0
    backoff: float = 0.0
    busy_at: float = -math.inf  # when this instance last found the bucket busy


class RateLimiter:
    """One instance's side of the partners' budgets: admits a request or raises `RateLimited`."""

    def __init__(self, budgets: RateBudgets, clock: Callable[[], float] = time.time) -> None:
        self.budgets = budgets
        self.clock = clock
        self._leases: dict[str, _Lease] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def admit(self, partner_id: str) -> None:
        """Spend one of the partner's tokens, leasing a block when none is left."""
        with self._lock(partner_id):
            lease = self._leases.setdefault(partner_id, _Lease())
            now = self.clock()
            if lease.tokens > 0 and now < lease.expires_at:
                lease.tokens -= 1
                return
            if now < lease.refused_until:
                raise _refusal(lease.refused_until - now)
            self._resize(lease, now)
            wanted = min(lease.next_size, (lease.limit or DEFAULT_RATE_LIMIT).max_block)
            granted, wait = self._take(partner_id, lease, now, wanted)
            # (The lease may have learnt a lower limit meanwhile, and so a smaller block.)
            if granted >= min(wanted, (lease.limit or DEFAULT_RATE_LIMIT).max_block):
                lease.backoff = 0.0
            else:
                # Refused, or given the bucket's last few tokens: the bucket is (nearly) empty,
                # so this instance asks it again only after a growing pause.
                lease.backoff = min(MAX_BACKOFF_SECONDS, lease.backoff * 2 or FIRST_BACKOFF_SECONDS)
                lease.refused_until = now + max(wait, lease.backoff)
            if granted:
                lease.tokens, lease.granted = granted - 1, granted
                lease.granted_at, lease.expires_at = now, now + LEASE_SECONDS
                return
            raise _refusal(lease.refused_until - now)

    def _resize(self, lease: _Lease, now: float) -> None:
        """The next block: what this instance spends in `PLANNED_SECONDS` at the pace it spent
        the last one, at most twice the last (and `max_block`), at least one."""
        if lease.granted:
            spent = lease.granted - lease.tokens
            elapsed = max(now - lease.granted_at, 0.001)
            pace = math.ceil(spent / elapsed * PLANNED_SECONDS)
            lease.next_size = max(1, min(lease.granted * 2, pace))
        lease.tokens = lease.granted = 0

    def _take(self, partner_id: str, lease: _Lease, now: float, wanted: int) -> tuple[int, float]:
        """Tokens granted (up to `wanted`; fewer, down to `min_block`, when that is all the
        bucket has), and when refused, the seconds until enough would be free."""
        now_us = int(now * MICROS)
        floor_us = now_us - int(TOLERANCE_SECONDS * MICROS)
        tokens = wanted
        # What this instance last saw of the bucket is stale: other instances move `tat` on.
        # If it saw the bucket busy lately, it guesses busy (a wrong guess costs a write).
        fresh = False
        for _ in range(MAX_ATTEMPTS):
            limit = lease.limit or DEFAULT_RATE_LIMIT
            tokens = min(tokens, limit.max_block)
            increment = _micros_for(tokens, limit.rate)
            # `burst` tokens' worth of refill, plus a microsecond for each lease's rounding up.
            tolerance = _micros_for(limit.burst, limit.rate) + limit.burst
            reset = lease.tat_us is None or (
                lease.tat_us < floor_us and (fresh or now - lease.busy_at > BUSY_MEMORY_SECONDS)
            )
            outcome = self.budgets.lease(
                LeaseRequest(
                    partner_id=partner_id,
                    expected=lease.limit,
                    reset=reset,
                    tokens=tokens,
                    now_us=now_us,
                    increment_us=increment,
                    floor_us=floor_us,
                    highest_us=now_us + tolerance - increment,
                )
            )
            changed = outcome.state.limit != lease.limit
            lease.limit = outcome.state.limit
            if outcome.state.tat_us is not None:
                lease.tat_us = max(lease.tat_us or 0, outcome.state.tat_us)
            fresh = True
            if outcome.granted:
                if not reset:
                    lease.busy_at = now
                return tokens, 0.0
            if changed:
                continue  # an admin changed the limit: lease again under the new one
            tat = outcome.state.tat_us
            if tat is None or tat < floor_us:
                if reset:
                    return 0, FIRST_BACKOFF_SECONDS  # raced; refuse briefly rather than loop
                continue  # the bucket went idle: reset it
            lease.busy_at = now
            left = (now_us + tolerance - tat) * limit.rate // MICROS
            least = min(tokens, limit.min_block)
            if left < least:
                return 0, (tat + _micros_for(least, limit.rate) - (now_us + tolerance)) / MICROS
            # The bucket has enough: this lease guessed idle, or wanted more than is left.
            tokens = min(tokens, left)
        return 0, FIRST_BACKOFF_SECONDS

    def _lock(self, partner_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(partner_id, threading.Lock())


def _micros_for(tokens: int, rate: int) -> int:
    """Microseconds of refill that `tokens` cost, rounded up (never in the partner's favour)."""
    return -(-tokens * MICROS // rate)


def _refusal(wait_seconds: float) -> RateLimited:
    return RateLimited(
        "the partner's request rate limit is exceeded; retry after Retry-After seconds",
        retry_after=max(1, math.ceil(wait_seconds)),
    )
