"""The pure rules of a point's life: expiry dates, lots, the tier window, reviews."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from pointsnet.ledger import tiers
from pointsnet.ledger.lifecycle import AccountLifecycle, after_posting, on_review
from pointsnet.ledger.lots import Lot, LotsInconsistent, restore, take
from pointsnet.ledger.models import LotMove
from pointsnet.programs.policy import ExpiryKind, ExpiryPolicy, ProgramPolicy, Tier


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# expiry dates


@pytest.mark.parametrize(
    ("earned", "months", "expires"),
    [
        (at(2025, 1, 15), 12, at(2026, 2, 1, 0)),
        (at(2025, 1, 31, 23), 1, at(2025, 3, 1, 0)),
        (at(2025, 12, 1), 24, at(2028, 1, 1, 0)),
    ],
)
def test_a_lot_expires_at_the_end_of_the_month_n_months_later(
    earned: datetime, months: int, expires: datetime
) -> None:
    policy = ExpiryPolicy(kind=ExpiryKind.AFTER_EARNING, months=months)
    assert policy.lot_expiry(earned) == expires


def test_an_inactive_balance_lapses_at_the_end_of_the_day_n_months_later() -> None:
    policy = ExpiryPolicy(kind=ExpiryKind.AFTER_INACTIVITY, months=1)
    # 31 January plus a month is the end of February (clamped), so 1 March 00:00
    assert policy.lapse_after(at(2025, 1, 31)) == at(2025, 3, 1, 0)
    assert policy.lapse_after(at(2025, 1, 10)) == at(2025, 2, 11, 0)


def test_tiers_ascend_from_zero() -> None:
    with pytest.raises(ValidationError):
        ProgramPolicy(tiers=(Tier(name="silver", min_points=10),))
    with pytest.raises(ValidationError):
        ProgramPolicy(tiers=(Tier(name="a", min_points=0), Tier(name="b", min_points=0)))
    ProgramPolicy(tiers=(Tier(name="member", min_points=0), Tier(name="gold", min_points=5)))


# lots


LOTS = [Lot("2026-08-01", 50, 1), Lot("2026-02-01", 100, 3)]


def test_points_leave_the_soonest_expiring_lot_then_the_never_expiring() -> None:
    assert take(LOTS, unlotted=20, points=160) == [
        LotMove(lot="2026-02-01", points=-100),
        LotMove(lot="2026-08-01", points=-50),
        LotMove(lot=None, points=-10),
    ]


def test_a_reversal_takes_its_own_lot_first() -> None:
    assert take(LOTS, unlotted=20, points=60, first="2026-08-01") == [
        LotMove(lot="2026-08-01", points=-50),
        LotMove(lot="2026-02-01", points=-10),
    ]
    assert take(LOTS, unlotted=20, points=30, unlotted_first=True) == [
        LotMove(lot=None, points=-20),
        LotMove(lot="2026-02-01", points=-10),
    ]


def test_lots_that_cannot_cover_the_balance_are_a_bug() -> None:
    with pytest.raises(LotsInconsistent):
        take(LOTS, unlotted=0, points=151)


def test_restoring_gives_back_the_last_taken_first_across_partial_reversals() -> None:
    consumed = [
        LotMove(lot="2026-02-01", points=-100),
        LotMove(lot="2026-08-01", points=-20),
    ]
    first = restore(consumed, already=0, points=50)
    assert first == [LotMove(lot="2026-08-01", points=20), LotMove(lot="2026-02-01", points=30)]
    second = restore(consumed, already=50, points=70)
    assert second == [LotMove(lot="2026-02-01", points=70)]
    # A debit that took no lots (no expiry policy then) gives back never-expiring points
    assert restore([], already=0, points=5) == [LotMove(lot=None, points=5)]


# the tier window


def test_the_window_is_this_month_and_the_eleven_before() -> None:
    now = at(2025, 3, 15)
    assert tiers.window_months(now)[0] == "2024-04"
    assert tiers.window_months(now)[-1] == "2025-03"
    assert tiers.window_start(now) == date(2024, 4, 1)
    earned = {"2024-03": 500, "2024-04": 100, "2025-03": 10}
    assert tiers.points_earned(earned, now) == 110
    assert tiers.next_drop(earned, now) == at(2025, 4, 1, 0)


def test_a_reversal_outside_the_window_changes_nothing() -> None:
    now = at(2025, 3, 15)
    assert tiers.add_earned({"2025-03": 10}, "2024-01", -5, now) == {"2025-03": 10}
    assert tiers.add_earned({"2025-03": 10}, "2025-03", -15, now) == {}


POLICY = ProgramPolicy(
    tiers=(Tier(name="member", min_points=0), Tier(name="gold", min_points=100)),
    expiry=ExpiryPolicy(kind=ExpiryKind.AFTER_INACTIVITY, months=12, notice_days=30),
)


def test_a_posting_ranks_at_once_and_schedules_the_next_review() -> None:
    state, move = after_posting(
        AccountLifecycle(),
        POLICY,
        at(2025, 1, 10),
        earned=("2025-01", 150),
        activity=True,
        available_after=150,
    )
    assert move is not None and (move.from_tier, move.to_tier, move.direction) == (
        "member",
        "gold",
        "up",
    )
    assert state.lapses_at == at(2026, 1, 11, 0)
    # The review is due at the first of: the lapse notice, the lapse, January leaving the window
    assert state.review_at == at(2025, 12, 12, 0)


def test_a_review_notices_once_then_lets_the_tier_fall() -> None:
    state, _ = after_posting(
        AccountLifecycle(),
        POLICY,
        at(2025, 1, 10),
        earned=("2025-01", 150),
        activity=True,
        available_after=150,
    )
    noticed = on_review(state, POLICY, at(2025, 12, 12, 1), available=150)
    assert noticed.lapse_notice and noticed.tier_move is None
    again = on_review(noticed.state, POLICY, at(2025, 12, 13), available=150)
    assert not again.lapse_notice
    fallen = on_review(noticed.state, POLICY, at(2026, 1, 1, 1), available=150)
    assert fallen.tier_move is not None and fallen.tier_move.direction == "down"
    assert fallen.state.tier == "member"
