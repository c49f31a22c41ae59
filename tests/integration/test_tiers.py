"""Tiers from points earned in the rolling 12-month window, with one event per change.

The window is the current UTC calendar month and the 11 before it: what was earned in
January 2025 counts until the end of December 2025.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.points_life import Life, ledger_check, life, set_policy

__all__ = ["life"]

TIERS = [
    {"name": "member", "min_points": 0},
    {"name": "silver", "min_points": 1000},
    {"name": "gold", "min_points": 5000},
]


@pytest.fixture
def tiered(life: Life) -> Life:
    """Given starlodge's tiers: member from 0, silver from 1000, gold from 5000 points."""
    set_policy("starlodge", tiers=TIERS)
    return life


def changes(life: Life) -> list[tuple[str, str, str]]:
    life.events.publish()
    return [
        (event["data"]["from_tier"], event["data"]["to_tier"], event["data"]["direction"])
        for event in life.events.of_type("member.tier_changed")
    ]


def test_tiers_go_up_as_points_are_earned_and_down_as_months_leave_the_window(
    tiered: Life,
) -> None:
    life = tiered
    # Given a new member who earns 800 in January: she is a member, 200 short of silver
    life.starlodge.earn("guest-1", 800)
    member = life.member(life.starlodge, "guest-1")
    assert member["tier"] == "member"
    assert member["tier_progress"] == {
        "points_earned": 800,
        "window_start": "2024-02-01",
        "next_tier": "silver",
        "points_to_next_tier": 200,
    }
    # When she earns 300 more in January and 4000 (then 100) in February
    life.clock.day(20)
    life.starlodge.earn("guest-1", 300)
    life.clock.day(40)
    life.starlodge.earn("guest-1", 4000)
    life.starlodge.earn("guest-1", 100)
    # Then she went up twice, once per change
    assert changes(life) == [("member", "silver", "up"), ("silver", "gold", "up")]
    member = life.member(life.starlodge, "guest-1")
    progress = member["tier_progress"]
    assert (member["tier"], progress["points_earned"], progress.get("next_tier")) == (
        "gold",
        5200,
        None,
    )
    # When January leaves the window (at 2026-01-01) she falls to silver, once
    life.sweep("points", at=life.clock.at(datetime(2025, 12, 31, 23, tzinfo=UTC)))
    life.sweep("points", at=life.clock.at(datetime(2026, 1, 1, 1, tzinfo=UTC)))
    life.sweep("points", at=life.clock.at(datetime(2026, 1, 1, 2, tzinfo=UTC)))
    member = life.member(life.starlodge, "guest-1")
    progress = member["tier_progress"]
    assert (member["tier"], progress["points_earned"], progress["points_to_next_tier"]) == (
        "silver",
        4100,
        900,
    )
    # And when February leaves it she is back to member, once
    life.sweep("points", at=life.clock.at(datetime(2026, 3, 1, 1, tzinfo=UTC)))
    life.sweep("points", at=life.clock.at(datetime(2026, 4, 1, 1, tzinfo=UTC)))
    assert changes(life) == [
        ("member", "silver", "up"),
        ("silver", "gold", "up"),
        ("gold", "silver", "down"),
        ("silver", "member", "down"),
    ]
    assert life.member(life.starlodge, "guest-1")["tier"] == "member"
    assert ledger_check().ok


def test_a_reversal_takes_its_points_out_of_the_tier(tiered: Life) -> None:
    life = tiered
    # Given a member who reached silver with one earn
    earn = life.starlodge.earn("guest-1", 1000).body["transaction"]
    # When 1 point of it is reversed
    reversal = life.starlodge.reverse(earn["transaction_id"], points=1).body
    # Then she is back to member, and the change names the reversal that caused it
    assert changes(life) == [("member", "silver", "up"), ("silver", "member", "down")]
    down = life.events.of_type("member.tier_changed")[-1]
    assert down["data"]["transaction_id"] == reversal["transaction_id"]
    assert life.member(life.starlodge, "guest-1")["tier_progress"]["points_earned"] == 999


def test_pending_points_count_once_captured(tiered: Life) -> None:
    life = tiered
    # Given starlodge's tiers, silver from 1000 points (the fixture)
    # When a member earns 1200 points as a hold
    # Then they stay a member while the points are pending
    held = life.starlodge.earn("guest-1", 1200, pending=True).body["transaction"]
    assert life.member(life.starlodge, "guest-1")["tier"] == "member"
    # And when the hold is captured, then they are silver
    life.starlodge.call("POST", f"/v1/transactions/{held['transaction_id']}/capture")
    assert life.member(life.starlodge, "guest-1")["tier"] == "silver"


def test_a_program_without_tiers_shows_none(life: Life) -> None:
    # Given a program with no tiers; When a member earns 10,000 points
    life.starlodge.earn("guest-1", 10_000)
    # Then the member shows no tier and no progress towards one
    member = life.member(life.starlodge, "guest-1")
    assert "tier" not in member and "tier_progress" not in member
