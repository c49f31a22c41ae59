"""The reconciliation benchmark's counts on a tiny seeded ledger (its timings are not checked).

It runs moto's server in a child process, as `make bench` does, so it needs no `aws` fixture;
eight journal shards instead of the template's 64 keep the worker processes few.
"""

from __future__ import annotations

from bench.reconciliation import CHILD_PROCESSES, measure_reconciliation
from bench.reconciliation_costs import day_cost, projection
from bench.reconciliation_report import reconciliation_rows

DAY = 400
HISTORIES = (200, 2000)
BIG_DAY = 600
SHARDS = 8


def test_the_reconciliation_figures_read_every_seeded_entry_and_obligation() -> None:
    # Given a day of 400 entries on ledgers of 200 and 2,000 older entries, and a day of 600
    # checked a worker process per shard (the benchmark raises if a run read other than the
    # entries and obligations it seeded)
    # When the benchmark measures them
    figures = measure_reconciliation(HISTORIES, big_day=BIG_DAY, flat_day=DAY, shards=SHARDS)
    # Then each day's run read exactly what was seeded: every tenth earn (0, 10, ..., 390)
    # carries an obligation, and every check passes
    for run in figures.flat:
        assert run.transactions == run.seeded.entries == DAY
        assert run.obligations == run.seeded.obligations > 0
        assert run.accounts == run.seeded.accounts
        assert run.checks_ok
        # And its reads were metered: DynamoDB read units and journal bytes
        assert run.read_units_per_entry > 0
        assert run.s3_bytes_per_entry > 0
        assert run.metered.count("s3 GetObject") >= SHARDS
    big = figures.big
    assert big.checks_ok
    assert big.transactions == big.seeded.entries == BIG_DAY
    assert big.obligations == big.seeded.obligations > 0
    # And each shard was checked in a process of its own, which reported its peak
    assert big.processes == CHILD_PROCESSES
    assert sorted(child.shard for child in big.children) == list(range(SHARDS))
    assert sum(child.entries for child in big.children) == BIG_DAY
    assert all(child.rss_peak >= child.rss_before > 0 for child in big.children)
    assert big.child_rate > 0
    # And the projection, the costs and the report's rows are worked out from them
    assert projection(figures).total_seconds > 0
    assert day_cost(figures).per_million > 0
    rows, notes = reconciliation_rows(figures)
    assert len(rows) == 5 and all(row.measured and row.verdict for row in rows)
    assert len(notes) == 4
