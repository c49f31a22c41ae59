"""A program's policy, as the network's operator sets it for each partner.

- Expiry `after_earning`: points earned in one UTC calendar month form one lot, which expires
  at the end of the month `months` after it (earned 2025-01-15, 12 months: expires at
  2026-02-01T00:00Z), so a member always has at least `months` months.
- Expiry `after_inactivity`: the whole available balance expires at the end of the UTC day
  `months` after the member's last earn, capture, hold, burn or exchange.
- Tiers: by points earned (earns and captures, less their reversals) in the rolling window of
  the current UTC calendar month and the 11 before it; see `pointsnet.ledger.tiers`.
- Holds are voided by the network `hold_timeout_days` after they were placed.

A policy applies from when it is set: lots keep the expiry they were given.
"""

from __future__ import annotations

import calendar
import itertools
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Protocol

from pydantic import ConfigDict, Field, Strict, model_validator

from pointsnet.caching import TimedCache
from pointsnet.model import Model
from pointsnet.strict_json import COMMAND_CONFIG, NOT_A_NUMBER

MAX_TIER_POINTS = 1_000_000_000_000

TierName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="A tier's name")]


class ExpiryKind(StrEnum):
    AFTER_EARNING = "after_earning"
    AFTER_INACTIVITY = "after_inactivity"


class ExpiryPolicy(Model):
    # The body of PUT /v1/partners/{id}/policy: parsed strictly, as every request body is.
    model_config = COMMAND_CONFIG

    kind: Annotated[ExpiryKind, Strict(False), NOT_A_NUMBER] = Field(
        description="`after_earning`: each month's lot expires `months` after that month; "
        "`after_inactivity`: the balance expires `months` after the member's last activity"
    )
    months: int = Field(ge=1, le=60, description="How many months points live")
    notice_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description="`points.expiring` is published this many days ahead; 0 publishes none",
    )

    def lot_expiry(self, earned_at: datetime) -> datetime:
        """When points earned at `earned_at` expire: the end of the month `months` later."""
        year, month = _add_months(earned_at.year, earned_at.month, self.months + 1)
        return datetime(year, month, 1, tzinfo=UTC)

    def lapse_after(self, activity_at: datetime) -> datetime:
        """When an inactive balance expires: the end of the UTC day `months` after."""
        day = activity_at.astimezone(UTC).date()
        year, month = _add_months(day.year, day.month, self.months)
        last_day = calendar.monthrange(year, month)[1]
        lapse_day = date(year, month, min(day.day, last_day)) + timedelta(days=1)
        return datetime(lapse_day.year, lapse_day.month, lapse_day.day, tzinfo=UTC)

    def notice_at(self, expires_at: datetime) -> datetime | None:
        return expires_at - timedelta(days=self.notice_days) if self.notice_days else None


class Tier(Model):
    model_config = COMMAND_CONFIG

    name: TierName
    min_points: int = Field(
        ge=0, le=MAX_TIER_POINTS, description="Points earned in the rolling 12 months to reach it"
    )


class ProgramPolicy(Model):
    """What a program does with its points over time. The default: nothing expires, no tiers."""

    model_config = COMMAND_CONFIG

    expiry: ExpiryPolicy | None = Field(default=None, description="None: points never expire")
    # A JSON array: Strict(False) lets a list be the tuple; each Tier is still strict.
    tiers: Annotated[tuple[Tier, ...], Strict(False)] = Field(
        default=(),
        max_length=10,
        description="Ascending by `min_points`, the first at 0 (every member's starting tier); "
        "empty: no tiers",
    )
    hold_timeout_days: int = Field(
        default=30, ge=1, le=365, description="An uncaptured hold is voided after this many days"
    )

    @model_validator(mode="after")
    def _tiers_ascend_from_zero(self) -> ProgramPolicy:
        if not self.tiers:
            return self
        if self.tiers[0].min_points != 0:
            raise ValueError("the first tier must start at 0 points")
        thresholds = [tier.min_points for tier in self.tiers]
        if any(lower >= upper for lower, upper in itertools.pairwise(thresholds)):
            raise ValueError("tiers must ascend strictly by min_points")
        if len({tier.name for tier in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        return self

    @property
    def lots_expire(self) -> bool:
        return self.expiry is not None and self.expiry.kind == ExpiryKind.AFTER_EARNING

    @property
    def lapses(self) -> bool:
        return self.expiry is not None and self.expiry.kind == ExpiryKind.AFTER_INACTIVITY

    @property
    def base_tier(self) -> str | None:
        return self.tiers[0].name if self.tiers else None


NO_POLICY = ProgramPolicy()


class StoredPolicy(Model):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    policy: ProgramPolicy
    updated_at: datetime | None = None
    updated_by: str | None = None


class PolicyReader(Protocol):
    def get_policy(self, partner_id: str) -> StoredPolicy | None: ...


class PolicyBook:
    """Each program's policy by its partner, cached for at most `cache_seconds`.

    Every posting reads its program's policy; caching keeps that off the request's reads,
    at the price of a new policy taking up to `cache_seconds` to apply.
    """

    def __init__(
        self,
        store: PolicyReader,
        cache_seconds: float = 30,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._cache: TimedCache[str, ProgramPolicy] = TimedCache(cache_seconds, monotonic)

    def policy_for(self, partner_id: str) -> ProgramPolicy:
        return self._cache.get(partner_id, self._load)

    def _load(self, partner_id: str) -> ProgramPolicy:
        stored = self.store.get_policy(partner_id)
        return stored.policy if stored else NO_POLICY


class FixedPolicies:
    """Every program under one policy: for a ledger with no directory (and for tests)."""

    def __init__(self, policy: ProgramPolicy = NO_POLICY) -> None:
        self.policy = policy

    def policy_for(self, partner_id: str) -> ProgramPolicy:
        return self.policy


class Policies(Protocol):
    def policy_for(self, partner_id: str) -> ProgramPolicy: ...


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1
