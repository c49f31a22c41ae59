"""Program metrics end to end: postings through the real partner API on the test's clock, the
stream journaled, each day computed by the metrics function, and the figures read back
through the metrics route, by role, in one Query."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from pointsnet.api.metrics import add_metrics_routes
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.auth.caller import Role
from pointsnet.journal.layout import journal_shards
from pointsnet.local.template import functions, load_handler
from pointsnet.metrics.service import ProgramMetrics
from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
from pointsnet.store.metrics_store import MetricsStore, ProgramDirectoryStore
from pointsnet.wiring import default_key_resolver
from tests.helpers import (
    PARTNER_FUNCTION_ENV,
    STACK,
    TEMPLATE,
    LambdaContextStub,
    Reply,
    SignedCaller,
    catch_up_journal,
)
from tests.points_life import Life, life, set_policy, set_rules

__all__ = ["life"]

SETTLEMENT_TABLE = PARTNER_FUNCTION_ENV["SETTLEMENT_TABLE"]
DIRECTORY_TABLE = PARTNER_FUNCTION_ENV["DIRECTORY_TABLE"]
PER_DOLLAR = {"rule_id": "base", "type": "per_amount", "points": 1, "per": "1.00"}
JAN_30 = datetime(2025, 1, 30, 10, tzinfo=UTC)


def on(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class CountingClient:
    """A boto3 client that counts the calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted


@dataclass
class MetricsRig:
    """The metrics route on its own app (as the programs app mounts it), over counted stores."""

    life: Life
    table: CountingClient
    directory: CountingClient
    service: ProgramMetrics

    @classmethod
    def build(cls, life: Life) -> MetricsRig:
        table = CountingClient(boto3.client("dynamodb"))
        directory = CountingClient(boto3.client("dynamodb"))
        service = ProgramMetrics(
            MetricsStore(SETTLEMENT_TABLE, client=table),
            ProgramDirectoryStore(DIRECTORY_TABLE, client=directory),
            (
                JournalBucket(PARTNER_FUNCTION_ENV["JOURNAL_BUCKET"]),
                JournalHeads(SETTLEMENT_TABLE),
            ),
            currency="USD",
            shards=journal_shards(),
        )
        return cls(life, table, directory, service)

    def caller(self, role: str, partner: str = "starlodge") -> SignedCaller:
        app = PointsNetResolver(
            roles={Role.PARTNER, Role.FINANCE, Role.ADMIN}, keys=default_key_resolver
        )
        add_metrics_routes(app, lambda: self.service)
        network = self.life.network
        key = {
            ("partner", "starlodge"): network.starlodge,
            ("partner", "rideco"): network.rideco,
            ("finance", "starlodge"): network.finance,
            ("admin", "starlodge"): network.admin,
        }[(role, partner)]
        return SignedCaller(lambda event, context: app.resolve(event, context), key)

    def metrics(self, role: str, program: str, start: date, end: date, **extra: Any) -> Reply:
        return self.caller(role, **extra).get(
            f"/v1/programs/{program}/metrics",
            period_start=start.isoformat(),
            period_end=end.isoformat(),
        )


@dataclass
class FunctionContext(LambdaContextStub):
    """The metrics function's invocation, its 900 s ahead of it."""

    function_name: str = "MetricsFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def run_metrics_function(event: dict[str, Any]) -> dict[str, Any]:
    handler = load_handler(functions(TEMPLATE, STACK)["MetricsFunction"])
    result: dict[str, Any] = handler(event, FunctionContext())
    return result


def posted(reply: Reply) -> dict[str, Any]:
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.body
    return body


def spend(life: Life, member: str, amount: str, reference: str) -> dict[str, Any]:
    body = {"amount": amount, "reference": reference}
    return posted(life.starlodge.call("POST", f"/v1/members/{member}/earn", body))


def seed_a_month(life: Life) -> None:
    """STAR earns 1 point per 1.00 spent; points expire at the end of the month after."""
    set_rules("STAR", PER_DOLLAR)
    set_policy("starlodge", expiry={"kind": "after_earning", "months": 1})
    star = life.starlodge
    # 2025-01-30: guest-1 spends 20.00 (20 points); guest-2 earns 100, guest-3 10; rideco's
    # rider-1 earns 5 RIDE
    life.clock.at(JAN_30)
    spend(life, "guest-1", "20.00", "jan-1")
    posted(star.earn("guest-2", 100, "jan-2"))
    posted(star.earn("guest-3", 10, "jan-3"))
    posted(life.rideco.earn("rider-1", 5, "ride-1"))
    # 2025-01-31: guest-1 burns 5; guest-4 earns 40 and burns them all (nothing left to expire)
    life.clock.at(JAN_30 + timedelta(days=1))
    posted(star.burn("guest-1", 5, "jan-4"))
    posted(star.earn("guest-4", 40, "jan-5"))
    posted(star.burn("guest-4", 40, "jan-6"))
    # 2025-02-03: guest-1 spends 35.50 (35), guest-2 12.25 (12), guest-5 (new) 7.00 (7), of
    # which 3 are reversed; guest-2 burns 30, of which 10 are reversed
    life.clock.at(on(date(2025, 2, 3)))
    spend(life, "guest-1", "35.50", "feb-1")
    spend(life, "guest-2", "12.25", "feb-2")
    seven = spend(life, "guest-5", "7.00", "feb-3")["transaction"]["transaction_id"]
    posted(star.reverse(seven, points=3))
    burn = posted(star.burn("guest-2", 30, "feb-4"))["transaction"]["transaction_id"]
    posted(star.reverse(burn, points=10))
    # 2025-02-10: guest-6 (new) holds 25, of which 15 are captured; guest-1 spends 2.25 (2)
    life.clock.at(on(date(2025, 2, 10)))
    hold = posted(star.earn("guest-6", 25, "feb-5", pending=True))["transaction"]
    posted(star.call("POST", f"/v1/transactions/{hold['transaction_id']}/capture", {"points": 15}))
    spend(life, "guest-1", "2.25", "feb-6")
    # 2025-03-01 00:30: the sweep expires January's lots: guest-1's 20 - 5 = 15, guest-2's
    # 100 - 30 + 10 = 80 (a burn takes the oldest lot first), guest-3's 10
    life.clock.at(datetime(2025, 3, 1, 0, 30, tzinfo=UTC))
    life.sweep("points")
    catch_up_journal()


def test_a_month_of_postings_gives_the_figures_worked_out_by_hand(life: Life) -> None:
    # Given a month of STAR postings, journaled (seed_a_month says what they are)
    seed_a_month(life)
    # When the metrics function back-fills 2025-01-30..2025-03-01, oldest first
    done = run_metrics_function({"from": "2025-01-30", "to": "2025-03-01"})
    assert (done["complete"], len(done["days"])) == (True, 31)
    assert sum(day["entries"] for day in done["days"]) == 19
    assert all(day["journal_problems"] == 0 for day in done["days"])
    # And finance reads STAR's February (2025-02-01..2025-03-01, 29 days)
    rig = MetricsRig.build(life)
    reply = rig.metrics("finance", "STAR", date(2025, 2, 1), date(2025, 3, 1))
    # Then issued = 35 + 12 + 7 - 3 (reversed) + 15 (captured) + 2 = 68; redeemed = 30 - 10 =
    # 20; expired = 15 + 80 + 10 = 105; nothing exchanged
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["points_issued"], body["points_redeemed"], body["points_expired"]) == (68, 20, 105)
    assert (body["points_exchanged_in"], body["points_exchanged_out"]) == (0, 0)
    # And outstanding at 2025-03-01's end: January left 20 + 100 + 10 + 40 - 5 - 40 = 125;
    # 125 + 68 - 20 - 105 = 68 (guest-1 37, guest-2 12, guest-3 0, guest-5 4, guest-6 15)
    assert body["points_outstanding"] == 68
    assert (body["outstanding_as_of"], body["outstanding_since"]) == ("2025-03-01", "2025-01-30")
    # And the liability is 68 x 0.0025 = 0.1700 USD, exact
    assert (body["currency"], body["point_value"], body["liability"]) == ("USD", "0.0025", "0.1700")
    # And breakage 105 / 68 = 1.54411... = 1.5441 (January's points expired in February)
    assert body["breakage"] == "1.5441"
    # And active: guest-1, -2, -3 (its expiry is an entry), -5, -6 = 5; new: guest-5, guest-6
    assert (body["active_members"], body["new_members"]) == (5, 2)
    # And retention: of January's guest-1..4, all but guest-4 came back: 3 / 4 = 0.7500
    assert body["retention"] == "0.7500"
    assert (body["previous_period_start"], body["previous_period_end"]) == (
        "2025-01-03",
        "2025-01-31",
    )
    assert body["previous_days_computed"] == 2
    # And 4 purchases (35.50, 12.25, 7.00, 2.25 = 57.00) by 3 members: 4 / 3 = 1.3333, an
    # order value of 57.00 / 4 = 14.25, a lifetime value of 14.25 x 1.3333 / 0.25 = 75.9981
    assert (body["purchases"], body["spend"]) == (4, "57.00")
    assert (body["purchase_frequency"], body["average_order_value"]) == ("1.3333", "14.25")
    assert body["lifetime_value"] == "76.00"
    # And every day is covered, exactly, and each formula is stated
    assert (body["days_computed"], body["days_missing"], body["estimated"]) == (29, [], False)
    assert "1 - retention" in body["formulas"]["lifetime_value"]


def test_january_alone_has_no_previous_period_to_retain(life: Life) -> None:
    # Given the month seeded, and its January days computed
    seed_a_month(life)
    run_metrics_function({"from": "2025-01-30", "to": "2025-01-31"})
    rig = MetricsRig.build(life)
    # When starlodge reads its 2025-01-30..31, and rideco its RIDE days
    star = rig.metrics("partner", "STAR", date(2025, 1, 30), date(2025, 1, 31)).body
    ride = rig.metrics("partner", "RIDE", date(2025, 1, 30), date(2025, 1, 31), partner="rideco")
    # Then STAR issued 20 + 100 + 10 + 40 = 170 and redeemed 5 + 40 = 45; 125 outstanding
    assert (star["points_issued"], star["points_redeemed"], star["points_outstanding"]) == (
        170,
        45,
        125,
    )
    # And breakage 0 / 170 = 0.0000; no one was active before, so no retention and no lifetime
    assert (star["breakage"], star["retention"], star["lifetime_value"]) == ("0.0000", None, None)
    # And one purchase of 20.00: frequency 1.0000, order value 20.00; four members, all new
    assert (star["purchase_frequency"], star["average_order_value"]) == ("1.0000", "20.00")
    assert (star["active_members"], star["new_members"]) == (4, 4)
    # And RIDE has its own: 5 issued to rider-1, 5 x 0.01 = 0.05 owed
    assert ride.status == 200, ride.body
    assert (ride.body["points_issued"], ride.body["liability"]) == (5, "0.05")


def test_a_partner_reads_only_its_own_program_and_finance_and_admin_any(life: Life) -> None:
    # Given one computed day
    life.clock.at(JAN_30)
    posted(life.starlodge.earn("guest-1", 100, "jan-1"))
    catch_up_journal()
    run_metrics_function({"day": "2025-01-30"})
    rig = MetricsRig.build(life)
    day = date(2025, 1, 30)
    # When each role asks for STAR, and for a program no partner owns
    own = rig.metrics("partner", "STAR", day, day)
    other = rig.metrics("partner", "STAR", day, day, partner="rideco")
    finance = rig.metrics("finance", "STAR", day, day)
    admin = rig.metrics("admin", "STAR", day, day)
    unknown = rig.metrics("finance", "NOPE", day, day)
    # Then starlodge, finance and admin read it; rideco is told it does not exist
    assert [reply.status for reply in (own, finance, admin)] == [200, 200, 200]
    assert own.body == finance.body == admin.body
    assert own.body["points_issued"] == 100
    assert (other.status, other.code) == (404, "not_found")
    assert (unknown.status, unknown.code) == (404, "not_found")


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2025, 2, 2), date(2025, 2, 1), "period_end"),
        (date(2025, 1, 1), date(2025, 4, 3), "period_start"),  # 93 days
        (datetime.now(UTC).date(), datetime.now(UTC).date() + timedelta(days=1), "period_end"),
    ],
)
def test_a_period_out_of_order_too_long_or_in_the_future_is_refused(
    life: Life, start: date, end: date, field: str
) -> None:
    # Given the metrics route
    rig = MetricsRig.build(life)
    # When finance asks for a period that ends before it starts, spans 92+ days or ends tomorrow
    reply = rig.metrics("finance", "STAR", start, end)
    # Then it is a validation_error naming the field, and nothing was read
    assert (reply.status, reply.code) == (422, "validation_error")
    assert reply.body["error"]["details"][0]["field"] == field
    assert rig.table.calls["query"] == 0


def test_the_programs_function_serves_the_route_with_the_default_wiring(life: Life) -> None:
    # Given one computed day
    life.clock.at(JAN_30)
    posted(life.starlodge.earn("guest-1", 100, "jan-1"))
    catch_up_journal()
    run_metrics_function({"day": "2025-01-30"})
    # When finance calls the template's programs function
    handler = load_handler(functions(TEMPLATE, STACK)["ProgramsApiFunction"])
    reply = SignedCaller(handler, life.network.finance).get(
        "/v1/programs/STAR/metrics", period_start="2025-01-30", period_end="2025-01-30"
    )
    # Then it answers the day's figures
    assert reply.status == 200, reply.body
    assert (reply.body["points_issued"], reply.body["points_outstanding"]) == (100, 100)


def test_a_day_the_document_does_not_allow_is_refused(life: Life) -> None:
    # Given the metrics route, whose days are 2000-01-01..2099-12-31 written YYYY-MM-DD
    finance = MetricsRig.build(life).caller("finance")
    # When finance sends a day before 2000, and one written otherwise
    replies = [
        finance.get("/v1/programs/STAR/metrics", period_start=start, period_end="2025-01-10")
        for start in ("1999-12-31", "2025-1-5")
    ]
    # Then each is a validation_error, not a failure
    assert [(reply.status, reply.code) for reply in replies] == [(422, "validation_error")] * 2


def test_a_request_reads_one_query_and_scans_nothing(life: Life) -> None:
    # Given two days computed, one of them before the period (retention reads it)
    life.clock.at(JAN_30)
    posted(life.starlodge.earn("guest-1", 100, "jan-1"))
    life.clock.at(JAN_30 + timedelta(days=1))
    posted(life.starlodge.earn("guest-1", 10, "jan-2"))
    catch_up_journal()
    run_metrics_function({"from": "2025-01-30", "to": "2025-01-31"})
    rig = MetricsRig.build(life)
    # When finance reads 2025-01-31 (and, for retention, the day before)
    reply = rig.metrics("finance", "STAR", date(2025, 1, 31), date(2025, 1, 31))
    # Then the settlement table was read by one Query, and the directory by two GetItems
    # (the program's owner and its point value); nothing was scanned
    assert reply.status == 200, reply.body
    assert (reply.body["days_computed"], reply.body["previous_days_computed"]) == (1, 1)
    assert reply.body["retention"] == "1.0000"
    assert dict(rig.table.calls) == {"query": 1}
    assert dict(rig.directory.calls) == {"get_item": 2}


def test_a_day_without_the_day_before_starts_outstanding_from_zero(life: Life) -> None:
    # Given guest-1's 100 points on 2025-01-30 and 10 more on 2025-01-31, journaled
    life.clock.at(JAN_30)
    posted(life.starlodge.earn("guest-1", 100, "jan-1"))
    life.clock.at(JAN_30 + timedelta(days=1))
    posted(life.starlodge.earn("guest-1", 10, "jan-2"))
    catch_up_journal()
    rig = MetricsRig.build(life)
    day = date(2025, 1, 31)
    # When 2025-01-31 is computed alone, then 2025-01-30 and 31 again in order
    run_metrics_function({"day": "2025-01-31"})
    alone = rig.metrics("finance", "STAR", day, day).body
    run_metrics_function({"from": "2025-01-30", "to": "2025-01-31"})
    filled = rig.metrics("finance", "STAR", day, day).body
    # Then alone it counts 10 outstanding since that day; back-filled, 110 since 2025-01-30
    assert (alone["points_outstanding"], alone["outstanding_since"]) == (10, "2025-01-31")
    assert (filled["points_outstanding"], filled["outstanding_since"]) == (110, "2025-01-30")


def test_the_schedules_event_computes_the_day_before_its_time(life: Life) -> None:
    # Given an earn on 2025-01-30, journaled
    life.clock.at(JAN_30)
    posted(life.starlodge.earn("guest-1", 100, "jan-1"))
    catch_up_journal()
    # When the schedule fires at 2025-01-31T01:00Z
    done = run_metrics_function({"scheduled_time": "2025-01-31T01:00:00Z"})
    # Then 2025-01-30 is computed, for every program of the directory
    assert [day["day"] for day in done["days"]] == ["2025-01-30"]
    assert done["days"][0]["programs"] == ["RIDE", "STAR"]
    assert (done["complete"], done["next_day"]) == (True, None)
    reply = MetricsRig.build(life).metrics("finance", "STAR", date(2025, 1, 30), date(2025, 1, 30))
    assert reply.body["points_issued"] == 100
