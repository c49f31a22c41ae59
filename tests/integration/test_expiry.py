"""Expiry by lot (and by inactivity): oldest lots spent first, lapsed lots expired by the sweep.

Under `after_earning` with 12 months, points earned in January 2025 expire at the end of
January 2026 (2026-02-01T00:00Z), those of July 2025 at 2026-08-01T00:00Z.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from pointsnet.auth.caller import Caller, Role
from pointsnet.idempotency import IdempotentRequest
from pointsnet.ledger.commands import BurnCommand, EarnCommand
from pointsnet.ledger.port import LedgerWrite
from pointsnet.ledger.service import Ledger
from pointsnet.network.commands import SetRate
from pointsnet.network.cross_partner import CrossPartnerLedger
from pointsnet.programs.policy import PolicyBook
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.store.policy_store import PolicyStore
from pointsnet.wiring import default_rates
from tests.points_life import (
    DIRECTORY_TABLE,
    LEDGER_TABLE,
    Life,
    clocked_ledger,
    ledger_check,
    life,
    set_policy,
)

__all__ = ["life"]

JANUARY_LOT = datetime(2026, 2, 1, tzinfo=UTC)
JULY_LOT = datetime(2026, 8, 1, tzinfo=UTC)


def expiring(life: Life, member_id: str = "guest-1") -> list[tuple[int, str]]:
    return [
        (point["points"], point["expires_at"][:10])
        for point in life.member(life.starlodge, member_id)["expiring"]
    ]


def transactions(life: Life, member_id: str = "guest-1") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = life.starlodge.get(f"/v1/members/{member_id}/transactions").body[
        "items"
    ]
    return items


@pytest.fixture
def twelve_months(life: Life) -> Life:
    """Given starlodge's points expiring 12 months after the month they were earned."""
    set_policy("starlodge", expiry={"kind": "after_earning", "months": 12, "notice_days": 30})
    return life


def test_burns_spend_the_oldest_lot_and_its_expiry_then_takes_nothing(
    twelve_months: Life,
) -> None:
    life = twelve_months
    # Given 100 points earned on day 0 and 50 on day 200
    life.starlodge.earn("guest-1", 100, "stay-1")
    life.clock.day(200)
    life.starlodge.earn("guest-1", 50, "stay-2")
    assert expiring(life) == [(100, "2026-02-01"), (50, "2026-08-01")]
    # When 120 are burned on day 300
    life.clock.day(300)
    burned = life.starlodge.burn("guest-1", 120, "upgrade")
    # Then the first lot is spent and 30 remain in the second
    assert burned.status == 201, burned.body
    assert expiring(life) == [(30, "2026-08-01")]
    assert ledger_check().ok
    # When the first lot's date passes, the sweep finds nothing to expire
    report = life.sweep("points", at=life.clock.at(JANUARY_LOT.replace(hour=1)))
    assert report["lots_expired"] == 0
    assert life.available(life.starlodge, "guest-1") == 30
    assert ledger_check().ok
    # And 30 days before the second lot's date, the member is told what will expire
    notice = life.sweep("points", at=life.clock.at(datetime(2026, 7, 2, 1, tzinfo=UTC)))
    assert notice["lots_noticed"] == 1
    # And at its date the 30 expire, through a balanced posting to the program
    expired = life.sweep("points", at=life.clock.at(JULY_LOT.replace(hour=1)))
    assert expired["lots_expired"] == 1
    assert life.available(life.starlodge, "guest-1") == 0
    last = transactions(life)[0]
    assert (last["type"], last["points"], last["reason"]) == ("expiry", 30, "lot")
    assert {(p["account"], p["points"]) for p in last["postings"]} == {
        ("member:starlodge:guest-1", -30),
        ("program:STAR:expired", 30),
    }
    # And sweeping again expires nothing more
    assert life.sweep("points", at=life.clock.at(JULY_LOT.replace(hour=2)))["lots_expired"] == 0
    assert ledger_check().ok
    # And the outbox announced one notice and one expiry
    life.events.publish()
    assert [event["data"]["points"] for event in life.events.of_type("points.expiring")] == [30]
    assert [event["data"]["points"] for event in life.events.of_type("points.expired")] == [30]


def test_reversals_put_points_back_where_they_came_from(twelve_months: Life) -> None:
    life = twelve_months
    # Given 100 earned on day 0, 50 on day 200, and 120 burned on day 300
    life.starlodge.earn("guest-1", 100, "stay-1")
    life.clock.day(200)
    second = life.starlodge.earn("guest-1", 50, "stay-2").body["transaction"]
    life.clock.day(300)
    burn = life.starlodge.burn("guest-1", 120, "upgrade").body["transaction"]
    # When 50 of the burn are reversed, they go back last-taken first: 20 to July, 30 to January
    life.clock.day(310)
    assert life.starlodge.reverse(burn["transaction_id"], points=50).status == 201
    assert expiring(life) == [(30, "2026-02-01"), (50, "2026-08-01")]
    # And reversing 40 of the July earn takes them from its own lot
    assert life.starlodge.reverse(second["transaction_id"], points=40).status == 201
    assert expiring(life) == [(30, "2026-02-01"), (10, "2026-08-01")]
    # And the rest of the burn's reversal goes back to January, the lot it came from
    assert life.starlodge.reverse(burn["transaction_id"], points=70).status == 201
    assert expiring(life) == [(100, "2026-02-01"), (10, "2026-08-01")]
    assert ledger_check().ok
    # Then each lot expires on its date, and nothing else does
    life.sweep("points", at=life.clock.at(JANUARY_LOT.replace(hour=1)))
    assert life.available(life.starlodge, "guest-1") == 10
    life.sweep("points", at=life.clock.at(JULY_LOT.replace(hour=1)))
    assert life.available(life.starlodge, "guest-1") == 0
    assert ledger_check().ok


def test_an_earn_reversal_takes_from_its_own_lot_then_the_oldest(twelve_months: Life) -> None:
    life = twelve_months
    # Given 100 earned in January, 50 in July and 40 in October, and 30 spent
    life.starlodge.earn("guest-1", 100, "stay-1")
    life.clock.day(200)
    july = life.starlodge.earn("guest-1", 50, "stay-2").body["transaction"]
    life.clock.day(270)
    life.starlodge.earn("guest-1", 40, "stay-3")
    life.starlodge.burn("guest-1", 30)
    assert expiring(life) == [(70, "2026-02-01"), (50, "2026-08-01"), (40, "2026-11-01")]
    # When 20 of the July earn are reversed
    # Then they leave July's lot, not the oldest
    assert life.starlodge.reverse(july["transaction_id"], points=20).status == 201
    assert expiring(life) == [(70, "2026-02-01"), (30, "2026-08-01"), (40, "2026-11-01")]
    # And when July's lot is short, the rest comes from the oldest lot left
    life.starlodge.burn("guest-1", 95)
    assert expiring(life) == [(5, "2026-08-01"), (40, "2026-11-01")]
    assert life.starlodge.reverse(july["transaction_id"], points=20).status == 201
    assert expiring(life) == [(25, "2026-11-01")]
    # And reversing more than is left of the earn is refused, and nothing moves
    refused = life.starlodge.reverse(july["transaction_id"], points=11)
    assert (refused.status, refused.code) == (409, "conflict")
    assert expiring(life) == [(25, "2026-11-01")]
    assert ledger_check().ok


def test_points_earned_before_an_expiry_policy_never_expire(life: Life) -> None:
    # Given 20 points earned while the program had no expiry policy
    life.starlodge.earn("guest-1", 20, "before")
    # And 100 earned after points started expiring after 12 months
    set_policy("starlodge", expiry={"kind": "after_earning", "months": 12})
    life.starlodge.earn("guest-1", 100, "after")
    # When 50 are burned, they leave the expiring lot first
    life.starlodge.burn("guest-1", 50)
    assert expiring(life) == [(50, "2026-02-01")]
    # Then at the lot's date 50 expire and the first 20 stay
    life.sweep("points", at=life.clock.at(JANUARY_LOT.replace(hour=1)))
    assert life.available(life.starlodge, "guest-1") == 20
    assert ledger_check().ok


def test_exchanged_points_leave_and_join_lots(life: Life) -> None:
    # Given STAR points expire after 12 months and RIDE points after 6
    set_policy("starlodge", expiry={"kind": "after_earning", "months": 12})
    set_policy("rideco", expiry={"kind": "after_earning", "months": 6})
    operator = Caller(partner_id="network", key_id="pnk_ops", role=Role.ADMIN)
    default_rates().set_rate(
        operator,
        "STAR",
        "RIDE",
        SetRate.model_validate({"rate": "0.25", "effective_from": "2020-01-01T00:00:00Z"}),
    )
    proposal = life.rideco.call(
        "POST",
        "/v1/links",
        {"member_id": "rider-1", "partner_program": "STAR", "partner_member_id": "guest-1"},
    ).body
    life.starlodge.call("POST", f"/v1/links/{proposal['link_id']}/confirm")
    # And a guest with 100 STAR earned on day 0
    life.starlodge.earn("guest-1", 100)
    # When she converts 40 STAR into 10 RIDE
    offer = life.starlodge.call(
        "POST",
        "/v1/quotes",
        {"member_id": "guest-1", "from_program": "STAR", "to_program": "RIDE", "points": 40},
    ).body
    exchanged = life.starlodge.call("POST", "/v1/exchanges", {"quote_id": offer["quote_id"]})
    assert exchanged.status == 201, exchanged.body
    # Then 60 STAR are left in January's lot, and the 10 RIDE form a lot of their own
    assert expiring(life) == [(60, "2026-02-01")]
    ride = life.member(life.rideco, "rider-1")["expiring"]
    assert [(point["points"], point["expires_at"][:10]) for point in ride] == [(10, "2025-08-01")]
    # And each expires under its own program's policy
    life.sweep("points", at=life.clock.at(datetime(2025, 8, 1, 1, tzinfo=UTC)))
    assert life.available(life.rideco, "rider-1") == 0
    assert life.available(life.starlodge, "guest-1") == 60
    life.sweep("points", at=life.clock.at(JANUARY_LOT.replace(hour=1)))
    assert life.available(life.starlodge, "guest-1") == 0
    assert ledger_check().ok


def test_an_inactive_balance_lapses_after_a_notice(life: Life) -> None:
    # Given points that lapse 12 months after the member's last activity, told 30 days ahead
    set_policy("starlodge", expiry={"kind": "after_inactivity", "months": 12, "notice_days": 30})
    life.starlodge.earn("guest-1", 100)
    assert expiring(life) == [(100, "2026-01-11")]
    # When she spends 10 on day 100, the whole balance lives 12 months from then
    life.clock.day(100)
    life.starlodge.burn("guest-1", 10)
    assert expiring(life) == [(90, "2026-04-21")]
    # Then the old date passes with nothing lapsing
    life.sweep("points", at=life.clock.at(datetime(2026, 1, 12, tzinfo=UTC)))
    assert life.available(life.starlodge, "guest-1") == 90
    # And 30 days before the new date she is told, and on it the 90 lapse
    noticed = life.sweep("points", at=life.clock.at(datetime(2026, 3, 23, tzinfo=UTC)))
    assert noticed["accounts_reviewed"] == 1
    life.sweep("points", at=life.clock.at(datetime(2026, 4, 21, 0, 30, tzinfo=UTC)))
    assert life.available(life.starlodge, "guest-1") == 0
    assert transactions(life)[0]["reason"] == "inactivity"
    assert ledger_check().ok
    life.events.publish()
    assert [
        (event["data"]["points"], event["data"]["reason"])
        for event in life.events.of_type("points.expiring")
    ] == [(90, "inactivity")]
    assert [event["data"]["points"] for event in life.events.of_type("points.expired")] == [90]


class CountingClient:
    """The DynamoDB client, counting the items of each TransactWriteItems."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb")
        self.transactions: list[list[str]] = []

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions.append([next(iter(action)) for action in kwargs["TransactItems"]])
        return self.client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_an_earn_tracks_lots_only_when_points_expire(life: Life) -> None:
    # Given a ledger that counts what each posting writes
    counting = CountingClient()
    ledger = Ledger(
        LedgerStore(LEDGER_TABLE, client=counting),
        clock=life.clock,
        policies=PolicyBook(PolicyStore(DIRECTORY_TABLE), cache_seconds=0),
    )
    caller = Caller(partner_id="starlodge", key_id="pnk_test", role=Role.PARTNER, program="STAR")

    def earn(key: str) -> None:
        request = IdempotentRequest(key=key, fingerprint=key)
        ledger.earn(caller, "guest-1", EarnCommand(points=10, reference=key), request)

    # When a member earns twice under no expiry policy (a new balance, then an existing one)
    earn("first")
    earn("second")
    # Then each earn is one entry and one balance (put whole when new): 2 items, 4 write units
    assert counting.transactions == [["Put", "Put"], ["Put", "Update"]]
    # And once points expire, an earn adds to its month's lot: 3 items
    set_policy("starlodge", expiry={"kind": "after_earning", "months": 12})
    earn("third")
    assert counting.transactions[-1] == ["Put", "Update", "Update"]


class RacingStore(LedgerStore):
    """A ledger store that lets another request commit first, once, just before it commits."""

    def __init__(self, table: str, before_first_commit: Any) -> None:
        super().__init__(table)
        self.before_first_commit = before_first_commit

    def commit(self, write: LedgerWrite) -> None:
        racer, self.before_first_commit = self.before_first_commit, None
        if racer is not None:
            racer()
        super().commit(write)


def test_a_burn_that_loses_a_race_takes_the_lots_as_they_are_then(twelve_months: Life) -> None:
    life = twelve_months
    # Given 100 points in January's lot and 50 in July's
    life.starlodge.earn("guest-1", 100, "stay-1")
    life.clock.day(200)
    life.starlodge.earn("guest-1", 50, "stay-2")
    caller = Caller(partner_id="starlodge", key_id="pnk_test", role=Role.PARTNER, program="STAR")

    def burn(ledger: Ledger | CrossPartnerLedger, key: str, points: int) -> None:
        own = ledger.ledger if isinstance(ledger, CrossPartnerLedger) else ledger
        request = IdempotentRequest(key=key, fingerprint=key)
        own.burn(caller, "guest-1", BurnCommand(points=points, reference=key), request)

    # When a burn of 60 plans, then another burn of 70 commits before it does
    other = clocked_ledger(life.clock)
    racing = RacingStore(LEDGER_TABLE, lambda: burn(other, "second", 70))
    ledger = Ledger(racing, clock=life.clock, policies=other.ledger.policies, sleep=lambda _: None)
    burn(ledger, "first", 60)
    # Then the loser re-planned: 70 + 30 left January, 30 left July, and 20 remain there
    assert expiring(life) == [(20, "2026-08-01")]
    assert ledger_check().ok
