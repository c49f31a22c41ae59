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
    # Given a program whose points expire n months after they are earned
    policy = ExpiryPolicy(kind=ExpiryKind.AFTER_EARNING, months=months)
    # When a lot earned at a given time is dated
    # Then it expires at the start of the month after the nth
    assert policy.lot_expiry(earned) == expires


def test_an_inactive_balance_lapses_at_the_end_of_the_day_n_months_later() -> None:
    # Given a program whose balances lapse after a month without activity
    policy = ExpiryPolicy(kind=ExpiryKind.AFTER_INACTIVITY, months=1)
    # When the lapse is dated from a member's last activity
    # Then it falls at the end of that day a month later, clamped to the month's end
    # 31 January plus a month is the end of February (clamped), so 1 March 00:00
    assert policy.lapse_after(at(2025, 1, 31)) == at(2025, 3, 1, 0)
    assert policy.lapse_after(at(2025, 1, 10)) == at(2025, 2, 11, 0)


def test_tiers_ascend_from_zero() -> None:
    # Given tier ladders that start above zero, repeat a threshold, or ascend from zero
    # When each is made into a program policy
    # Then only the one that ascends from zero is accepted
    with pytest.raises(ValidationError):
        ProgramPolicy(tiers=(Tier(name="silver", min_points=10),))
    with pytest.raises(ValidationError):
        ProgramPolicy(tiers=(Tier(name="a", min_points=0), Tier(name="b", min_points=0)))
    ProgramPolicy(tiers=(Tier(name="member", min_points=0), Tier(name="gold", min_points=5)))


# lots


LOTS = [Lot("2026-08-01", 50, 1), Lot("2026-02-01", 100, 3)]


def test_points_leave_the_soonest_expiring_lot_then_the_never_expiring() -> None:
    # Given lots of 50 and 100 points and 20 points that never expire
    # When 160 points are burnt
    # Then they leave the soonest expiring lot first, and the never-expiring ones last
    assert take(LOTS, unlotted=20, points=160) == [
        LotMove(lot="2026-02-01", points=-100),
        LotMove(lot="2026-08-01", points=-50),
        LotMove(lot=None, points=-10),
    ]


def test_a_reversal_takes_its_own_lot_first() -> None:
    # Given lots of 50 and 100 points and 20 points that never expire
    # When an earn from the August lot is reversed
    # Then its own lot is taken first, then the soonest expiring
    assert take(LOTS, unlotted=20, points=60, first="2026-08-01") == [
        LotMove(lot="2026-08-01", points=-50),
        LotMove(lot="2026-02-01", points=-10),
    ]
    # And a reversal of never-expiring points takes those first
    assert take(LOTS, unlotted=20, points=30, unlotted_first=True) == [
        LotMove(lot=None, points=-20),
        LotMove(lot="2026-02-01", points=-10),
    ]


def test_lots_that_cannot_cover_the_balance_are_a_bug() -> None:
    # Given lots of 150 points in all and none unlotted
    # When 151 points are taken from them
    # Then the lots are reported inconsistent
    with pytest.raises(LotsInconsistent):
        take(LOTS, unlotted=0, points=151)


def test_restoring_gives_back_the_last_taken_first_across_partial_reversals() -> None:
    # Given a burn that took 100 points from the February lot, then 20 from August
    consumed = [
        LotMove(lot="2026-02-01", points=-100),
        LotMove(lot="2026-08-01", points=-20),
    ]
    # When 50 of them are restored, then 70 more
    first = restore(consumed, already=0, points=50)
    # Then the last lot taken is given back first, and the second picks up where it left
    assert first == [LotMove(lot="2026-08-01", points=20), LotMove(lot="2026-02-01", points=30)]
    second = restore(consumed, already=50, points=70)
    assert second == [LotMove(lot="2026-02-01", points=70)]
    # A debit that took no lots (no expiry policy then) gives back never-expiring points
    assert restore([], already=0, points=5) == [LotMove(lot=None, points=5)]


# the tier window


def test_the_window_is_this_month_and_the_eleven_before() -> None:
    # Given a day in March 2025
    now = at(2025, 3, 15)
    # When the tier window is reckoned from it
    # Then it runs from April 2024 to March 2025
    assert tiers.window_months(now)[0] == "2024-04"
    assert tiers.window_months(now)[-1] == "2025-03"
    assert tiers.window_start(now) == date(2024, 4, 1)
    # And only points earned in it count, till April 2024's drop out on 1 April 2025
    earned = {"2024-03": 500, "2024-04": 100, "2025-03": 10}
    assert tiers.points_earned(earned, now) == 110
    assert tiers.next_drop(earned, now) == at(2025, 4, 1, 0)


def test_a_reversal_outside_the_window_changes_nothing() -> None:
    # Given a member who earned 10 points this month, in March 2025
    now = at(2025, 3, 15)
    # When points earned before the window are reversed
    # Then the window's earnings are unchanged
    assert tiers.add_earned({"2025-03": 10}, "2024-01", -5, now) == {"2025-03": 10}
    # And a reversal inside it empties the month, never going below nothing
    assert tiers.add_earned({"2025-03": 10}, "2025-03", -15, now) == {}


POLICY = ProgramPolicy(
    tiers=(Tier(name="member", min_points=0), Tier(name="gold", min_points=100)),
    expiry=ExpiryPolicy(kind=ExpiryKind.AFTER_INACTIVITY, months=12, notice_days=30),
)


def test_a_posting_ranks_at_once_and_schedules_the_next_review() -> None:
    # Given a member with no history, in a program with a gold tier at 100 points
    # When they earn 150 points
    state, move = after_posting(
        AccountLifecycle(),
        POLICY,
        at(2025, 1, 10),
        earned=("2025-01", 150),
        activity=True,
        available_after=150,
    )
    # Then they move up to gold at once, and lapse after 12 months of inactivity
    assert move is not None and (move.from_tier, move.to_tier, move.direction) == (
        "member",
        "gold",
        "up",
    )
    assert state.lapses_at == at(2026, 1, 11, 0)
    # The review is due at the first of: the lapse notice, the lapse, January leaving the window
    assert state.review_at == at(2025, 12, 12, 0)


def test_a_review_notices_once_then_lets_the_tier_fall() -> None:
    # Given a gold member who earned 150 points in January and nothing since
    state, _ = after_posting(
        AccountLifecycle(),
        POLICY,
        at(2025, 1, 10),
        earned=("2025-01", 150),
        activity=True,
        available_after=150,
    )
    # When their account is reviewed at the notice date, the day after, and at the lapse
    noticed = on_review(state, POLICY, at(2025, 12, 12, 1), available=150)
    # Then the lapse is noticed once only, and then the tier falls back to member
    assert noticed.lapse_notice and noticed.tier_move is None
    again = on_review(noticed.state, POLICY, at(2025, 12, 13), available=150)
    assert not again.lapse_notice
    fallen = on_review(noticed.state, POLICY, at(2026, 1, 1, 1), available=150)
    assert fallen.tier_move is not None and fallen.tier_move.direction == "down"
    assert fallen.state.tier == "member"


def test_an_earn_keeps_the_review_where_it_was_and_the_early_review_sets_the_next() -> None:
    # Given a member who earned on 1 January in a program that watches 60 days of inactivity
    plain = ProgramPolicy()
    first, _ = after_posting(
        AccountLifecycle(),
        plain,
        at(2025, 1, 1),
        earned=None,
        activity=True,
        available_after=10,
        inactive_days=60,
    )
    assert first.review_at == at(2025, 3, 2)
    # When they earn again on 31 January
    second, _ = after_posting(
        first,
        plain,
        at(2025, 1, 31),
        earned=None,
        activity=True,
        available_after=20,
        inactive_days=60,
    )
    # Then their review stays on 2 March (moving it would rewrite the ByDue index)
    assert (second.active_at, second.review_at) == (at(2025, 1, 31), at(2025, 3, 2))
    # And that review finds them active since: nothing to announce, the next 60 days on
    reviewed = on_review(second, plain, at(2025, 3, 2), available=20, inactive_days=60)
    assert not reviewed.inactive_notice
    assert reviewed.state.review_at == at(2025, 4, 1)
