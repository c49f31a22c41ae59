"""Tiers from points earned over a rolling window of 12 UTC calendar months.

The window at a moment is its UTC calendar month and the 11 before it: points earned in
January 2025 count until 2025-12-31T23:59:59Z and stop counting at 2026-01-01T00:00:00Z. The
member balance keeps one bucket per month of the window (`{"2025-01": 1200, ...}`), so the
item stays small however often a member earns; a reversal takes its points out of the
bucket of the month the reversed earn was in, while that month is still in the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pointsnet.programs.policy import Tier

WINDOW_MONTHS = 12


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def window_months(now: datetime) -> tuple[str, ...]:
    """The window's months, oldest first."""
    index = _month_index(month_of(now))
    return tuple(_month_key(index - back) for back in range(WINDOW_MONTHS - 1, -1, -1))


def window_start(now: datetime) -> date:
    year, month = window_months(now)[0].split("-")
    return date(int(year), int(month), 1)


def add_earned(earned: Mapping[str, int], month: str, points: int, now: datetime) -> dict[str, int]:
    """The buckets after `points` (negative for a reversal) are counted in `month`."""
    buckets = prune(earned, now)
    if month in window_months(now):
        buckets[month] = max(0, buckets.get(month, 0) + points)
    return {key: value for key, value in sorted(buckets.items()) if value > 0}


def prune(earned: Mapping[str, int], now: datetime) -> dict[str, int]:
    months = set(window_months(now))
    return {key: value for key, value in earned.items() if key in months and value > 0}


def points_earned(earned: Mapping[str, int], now: datetime) -> int:
    return sum(prune(earned, now).values())


def tier_for(tiers: Sequence[Tier], points: int) -> Tier:
    """The highest tier whose threshold the points reach (the first starts at 0)."""
    reached = tiers[0]
    for tier in tiers:
        if points >= tier.min_points:
            reached = tier
    return reached


def next_tier(tiers: Sequence[Tier], points: int) -> Tier | None:
    return next((tier for tier in tiers if tier.min_points > points), None)


def next_drop(earned: Mapping[str, int], now: datetime) -> datetime | None:
    """When the oldest month with points leaves the window: when a tier may fall."""
    buckets = prune(earned, now)
    if not buckets:
        return None
    oldest = min(buckets)
    leaves = _month_key(_month_index(oldest) + WINDOW_MONTHS)
    year, month = leaves.split("-")
    return datetime(int(year), int(month), 1, tzinfo=UTC)


@dataclass(frozen=True)
class TierStanding:
    """Where a member stands: the tier, the points that earned it, what the next one needs."""

    tier: str
    points_earned: int
    window_start: date
    next_tier: str | None
    points_to_next_tier: int | None


def standing(
    tiers: Sequence[Tier], recorded: str | None, earned: Mapping[str, int], now: datetime
) -> TierStanding:
    """The recorded tier (what events announced) with the points earned in the window now."""
    points = points_earned(earned, now)
    names = [tier.name for tier in tiers]
    # A member never ranked, or ranked under tiers since renamed, stands where the points say.
    name = recorded if recorded in names else tier_for(tiers, points).name
    above = tiers[names.index(name) + 1] if names.index(name) + 1 < len(tiers) else None
    return TierStanding(
        tier=name,
        points_earned=points,
        window_start=window_start(now),
        next_tier=above.name if above else None,
        points_to_next_tier=max(0, above.min_points - points) if above else None,
    )


def _month_index(key: str) -> int:
    year, month = key.split("-")
    return int(year) * 12 + int(month) - 1


def _month_key(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
