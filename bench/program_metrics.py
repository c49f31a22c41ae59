"""Program metrics' figure: what `GET /v1/programs/{program}/metrics` reads.

A 30-day period is read through the template's ProgramsApiFunction on moto, after the days
of the period and of the period before it (retention compares the two) are stored as the
metrics function stores them, each with 2,000 members active. The capacity meter counts
every item each DynamoDB call read, by table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from bench.capacity import CapacityMeter
from bench.network import moto_network
from bench.report import Row, at_most

PERIOD_DAYS = 30
MEMBERS_PER_DAY = 2_000
REQUESTS = 20


def metrics_rows() -> tuple[list[Row], list[str]]:
    from pointsnet.metrics.members import member_hash, members_of
    from pointsnet.metrics.models import DayFigures
    from pointsnet.settlement.settings import get_settlement_settings
    from pointsnet.store.metrics_store import MetricsStore

    meter = CapacityMeter(lambda: boto3.session.Session().client("dynamodb"))
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=PERIOD_DAYS - 1)
    with moto_network((meter.install,), logical_id="ProgramsApiFunction") as network:
        store = MetricsStore(get_settlement_settings().settlement_table)
        first = start - timedelta(days=PERIOD_DAYS)
        for offset in range(2 * PERIOD_DAYS):
            day = first + timedelta(days=offset)
            active = members_of(
                member_hash(f"member:STAR:m{(offset * 97 + n) % 50_000}")
                for n in range(MEMBERS_PER_DAY)
            )
            store.put_day(
                DayFigures(
                    program="STAR",
                    day=day,
                    points_issued=1_000 + offset,
                    outstanding_end=100_000 + offset,
                    outstanding_since=first,
                    entries=MEMBERS_PER_DAY,
                    active=active,
                )
            )
        path, query = "/v1/programs/STAR/metrics", f"period_start={start}&period_end={end}"
        # A warm function: the key and the program are cached after its first request.
        network.starlodge.call("GET", path, query=query)
        with meter.measuring() as consumed:
            for _ in range(REQUESTS):
                reply = network.starlodge.call("GET", path, query=query)
                if reply.status != 200:
                    raise RuntimeError(f"metrics request failed: {reply}")
    per_request = consumed.per_request(REQUESTS)
    items = sum(per_request.items_read.values())
    by_where = ", ".join(
        f"{where} {count:g}" for where, count in sorted(per_request.items_read.items())
    )
    calls = ", ".join(f"{name} {count:g}" for name, count in sorted(per_request.calls.items()))
    per_day = items / PERIOD_DAYS
    row = Row(
        f"metrics request: items read per day of a {PERIOD_DAYS}-day period",
        f"{per_day:.2f} ({items:g} items: {by_where}; calls: {calls}; "
        f"{per_request.total_read_units:g} RCU)",
        "≤ 1 item per day",
        at_most(per_day, 1.0, "", 2),
    )
    note = (
        f"Metrics: a {PERIOD_DAYS}-day period read {REQUESTS} times through ProgramsApiFunction "
        f"on moto, over stored days of {MEMBERS_PER_DAY:,} active members each; retention "
        "compares the period's members with the period before's, so the one Query reads the "
        f"days of both ({2 * PERIOD_DAYS} items). The key and the program are cached per "
        "function instance after the first request."
    )
    return [row], [note]
