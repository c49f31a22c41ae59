"""A period's metrics from its stored days: each formula, its rounding, and coverage."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pointsnet.metrics.members import SketchMembers, member_hash, members_of
from pointsnet.metrics.models import DayFigures, ProgramInfo
from pointsnet.metrics.period import (
    FORMULAS,
    average_order_value,
    breakage,
    liability,
    lifetime_value,
    period_metrics,
    previous_period,
    purchase_frequency,
    retention,
)

STAR = ProgramInfo(program="STAR", partner_id="starlodge", point_value=Decimal("0.0025"))
START, END = date(2025, 2, 1), date(2025, 2, 3)


def members(*names: str) -> set[int]:
    return {member_hash(f"member:starlodge:{name}") for name in names}


def day(on: date, *active: str, **figures: object) -> DayFigures:
    return DayFigures.empty("STAR", on).model_copy(
        update={"active": members_of(members(*active))} | figures
    )


def test_the_previous_period_has_the_same_length_and_ends_the_day_before() -> None:
    # Given periods of 1 and 28 days
    # When their previous periods are taken
    # Then each is as long and ends the day before the period starts
    assert previous_period(date(2025, 3, 1), date(2025, 3, 1)) == (
        date(2025, 2, 28),
        date(2025, 2, 28),
    )
    assert previous_period(date(2025, 2, 1), date(2025, 2, 28)) == (
        date(2025, 1, 4),
        date(2025, 1, 31),
    )


def test_ratios_round_half_even_to_4_places_and_money_to_the_minor_unit() -> None:
    # Given figures whose ratios fall exactly between two 4th places
    # When the formulas are applied
    # Then they round half-even: 0.00005 -> 0.0000 and 0.00015 -> 0.0002
    assert breakage(1, 20_000) == Decimal("0.0000")
    assert breakage(3, 20_000) == Decimal("0.0002")
    assert breakage(5, 0) is None
    assert purchase_frequency(4, 3) == Decimal("1.3333")
    assert purchase_frequency(0, 0) is None
    # And money to the cent (USD), or to the yen: 0.125 -> 0.12, 0.375 -> 0.38
    assert average_order_value(Decimal("0.25"), 2, "USD") == Decimal("0.12")
    assert average_order_value(Decimal("0.75"), 2, "USD") == Decimal("0.38")
    assert average_order_value(Decimal("5"), 2, "JPY") == Decimal("2")
    assert average_order_value(Decimal("5"), 0, "USD") is None
    # And the liability is exact
    assert liability(1234, Decimal("0.0025")) == Decimal("3.0850")
    assert liability(None, Decimal("0.0025")) is None
    assert liability(1234, None) is None


def test_lifetime_value_is_order_value_x_frequency_over_one_minus_retention() -> None:
    # Given an order value of 14.25, 1.3333 purchases a member, and retention 0.75
    # When the lifetime value is computed
    value = lifetime_value(Decimal("14.25"), Decimal("1.3333"), Decimal("0.75"), "USD")
    # Then it is 14.25 x 1.3333 / 0.25 = 75.9981, to the cent 76.00
    assert value == Decimal("76.00")
    # And it has none when retention is unknown or every member stays
    assert lifetime_value(Decimal("14.25"), Decimal("1.3333"), None, "USD") is None
    assert lifetime_value(Decimal("14.25"), Decimal("1.3333"), Decimal("1"), "USD") is None
    assert lifetime_value(None, None, Decimal("0.5"), "USD") is None


def test_retention_is_the_share_of_last_periods_members_active_again() -> None:
    # Given 4 members active before and 3 of them (and a newcomer) active now
    before = members_of(members("a", "b", "c", "d"))
    now = members_of(members("a", "b", "c", "e"))
    # When retention is computed
    # Then it is 3 / 4, and none without members before
    assert retention(before, now) == Decimal("0.7500")
    assert retention(members_of(set()), now) is None


def test_a_period_adds_its_days_and_takes_outstanding_from_its_last_computed_day() -> None:
    # Given two computed days of three (2025-02-02 missing) and one day of the period before
    days = [
        day(
            START,
            "a",
            "b",
            points_issued=100,
            points_expired=10,
            purchases=2,
            spend=Decimal("20.50"),
            purchasers=members_of(members("a")),
            outstanding_end=500,
            outstanding_since=date(2025, 1, 1),
            new_members=1,
        ),
        day(
            END,
            "b",
            "c",
            points_issued=50,
            points_redeemed=30,
            points_expired=5,
            purchases=1,
            spend=Decimal("9.50"),
            purchasers=members_of(members("c")),
            outstanding_end=520,
            outstanding_since=date(2025, 2, 3),
            new_members=1,
        ),
    ]
    previous = [day(date(2025, 1, 30), "a", "d")]
    # When the period's metrics are made
    metrics = period_metrics(STAR, START, END, days, previous, "USD")
    # Then sums add up: issued 150, redeemed 30, expired 15, purchases 3 spending 30.00
    assert (metrics.points_issued, metrics.points_redeemed, metrics.points_expired) == (150, 30, 15)
    assert (metrics.purchases, metrics.spend) == (3, Decimal("30.00"))
    # And outstanding is the last computed day's, 520 x 0.0025 = 1.3000 owed
    assert (metrics.points_outstanding, metrics.outstanding_as_of) == (520, END)
    assert metrics.outstanding_since == date(2025, 2, 3)
    assert metrics.liability == Decimal("1.3000")
    # And breakage 15 / 150 = 0.1000; 3 distinct members, 2 new
    assert metrics.breakage == Decimal("0.1000")
    assert (metrics.active_members, metrics.new_members) == (3, 2)
    # And retention: of a, d before, a came back: 0.5000
    assert metrics.retention == Decimal("0.5000")
    assert (metrics.previous_period_start, metrics.previous_period_end) == (
        date(2025, 1, 29),
        date(2025, 1, 31),
    )
    # And 3 purchases by 2 members: 1.5000; 30.00 / 3 = 10.00; 10.00 x 1.5 / 0.5 = 30.00
    assert metrics.purchase_frequency == Decimal("1.5000")
    assert metrics.average_order_value == Decimal("10.00")
    assert metrics.lifetime_value == Decimal("30.00")
    # And coverage: 2 days computed, 2025-02-02 missing, 1 day before; all exact
    assert (metrics.days_computed, metrics.days_missing) == (2, [date(2025, 2, 2)])
    assert (metrics.previous_days_computed, metrics.estimated) == (1, False)
    assert metrics.formulas == FORMULAS
    assert set(FORMULAS) >= {"liability", "breakage", "retention", "lifetime_value"}


def test_a_period_with_nothing_computed_says_so() -> None:
    # Given no stored day at all
    # When the period's metrics are made
    metrics = period_metrics(STAR, START, END, [], [], "USD")
    # Then sums are 0, outstanding and the ratios unknown, every day missing
    assert (metrics.points_issued, metrics.active_members) == (0, 0)
    assert (metrics.points_outstanding, metrics.liability, metrics.breakage) == (None, None, None)
    assert (metrics.retention, metrics.lifetime_value) == (None, None)
    assert metrics.days_missing == [START + timedelta(days=offset) for offset in range(3)]


def test_a_sketched_day_makes_the_period_estimated() -> None:
    # Given a day whose members were too many to keep exactly
    crowd = SketchMembers.of(member_hash(f"member:starlodge:m-{n}") for n in range(30_000))
    days = [day(START).model_copy(update={"active": crowd})]
    # When the period's metrics are made
    metrics = period_metrics(STAR, START, END, days, [], "USD")
    # Then the member count is an estimate, and says so
    assert metrics.estimated is True
    assert abs(metrics.active_members - 30_000) <= 0.04 * 30_000
