"""What finance reads in a settlement report, rendered from settlements built here (no AWS)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from pointsnet.ledger.models import Obligation, ObligationTerms
from pointsnet.settlement.arithmetic import LineTotals, figures_of, merged_prices, settle_lines
from pointsnet.settlement.checks import build_checks, new_findings
from pointsnet.settlement.line_detail import (
    DetailStatus,
    LineDetail,
    line_detail,
    obligation_id_for,
    record_part,
)
from pointsnet.settlement.models import (
    AuditEntry,
    Period,
    RunSummary,
    Settlement,
    SettlementKind,
    SettlementStatus,
)
from pointsnet.settlement.report_html import render_html
from pointsnet.settlement.report_markup import readable_time
from pointsnet.settlement.report_view import build_report
from pointsnet.settlement.reports import render_csv
from pointsnet.settlement.run_state import ShardTally

DAY = date(2026, 12, 3)
RUN_START = datetime(2026, 12, 4, 0, 15, tzinfo=UTC)


class MemoryReports:
    """A report store in a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def keys(self, prefix: str) -> list[str]:
        return [key for key in self.objects if key.startswith(prefix)]


def obligation(
    number: int, payer: str, payee: str, program: str, points: int, price: str
) -> Obligation:
    return Obligation(
        transaction_id=f"txn_{number:04d}",
        kind="cross_partner_earn",
        created_at=datetime(2026, 12, 3, 10, number, tzinfo=UTC),
        terms=ObligationTerms(
            payer=payer,
            payee=payee,
            program=program,
            points=points,
            unit_price=Decimal(price),
            currency="USD",
        ),
    )


# rideco owes starlodge 0.62 for 248 STAR, starlodge owes rideco 0.50 for 50 RIDE: 0.12 moves.
TWO_WAYS = [
    obligation(1, "rideco", "starlodge", "STAR", 200, "0.0025"),
    obligation(2, "rideco", "starlodge", "STAR", 48, "0.0025"),
    obligation(3, "starlodge", "rideco", "RIDE", 50, "0.01"),
]


def settled(
    obligations: list[Obligation],
    *,
    settlement_id: str = "stl_20261203_20261203",
    run_id: str = "run_1",
    started_at: datetime = RUN_START,
    store: MemoryReports | None = None,
    **changes: object,
) -> Settlement:
    """The day's settlement of these obligations, its detail recorded in `store` if given."""
    period = Period(period_start=DAY, period_end=DAY)
    tally = ShardTally(day=DAY, shard=0)
    totals = LineTotals()
    for item in obligations:
        totals.add(item.terms)
        tally.summed.append(item)
    parts = record_part(store, period, run_id, tally) if store is not None else 0
    figures = figures_of(settle_lines(totals.lines.values(), "USD"), "USD")
    base = Settlement(
        settlement_id=settlement_id,
        period_start=DAY,
        period_end=DAY,
        currency="USD",
        status=SettlementStatus.DRAFT,
        lines=figures.lines,
        bilateral=figures.bilateral,
        net_positions=figures.net_positions,
        rounding=figures.rounding,
        checks=build_checks(new_findings(), figures.net_positions),
        audit=[
            AuditEntry(
                action="run",
                to_status=SettlementStatus.DRAFT,
                at=started_at,
                partner_id="scheduler",
            )
        ],
        run=RunSummary(
            run_id=run_id,
            started_at=started_at,
            finished_at=started_at,
            invocations=1,
            pages=1,
            transactions=len(obligations),
            cross_partner_transactions=len(obligations),
            obligations=len(obligations),
            accounts_checked=2,
            detail_parts=1 if parts else 0,
        ),
        created_at=started_at,
        updated_at=started_at,
    )
    return base.model_copy(update=changes)


NO_DETAIL = LineDetail(DetailStatus.NOT_RECORDED)


def test_a_time_reads_as_a_person_reads_it_in_utc() -> None:
    # Given a moment in UTC and the same moment two hours east
    moment = datetime(2026, 12, 3, 14, 5, 9, tzinfo=UTC)
    east = moment.astimezone(timezone(timedelta(hours=2)))
    # When each is written for the HTML report
    # Then both read the same, in UTC
    assert readable_time(moment) == readable_time(east) == "3 Dec 2026, 14:05 UTC"


def test_gross_both_ways_is_not_the_cash_that_moves() -> None:
    # Given rideco owing starlodge 0.62 and starlodge owing rideco 0.50
    report = build_report(settled(TWO_WAYS), {"rideco": "RideCo"}, NO_DETAIL)
    # When the cash is read
    cash = report.cash
    # Then each direction is gross, and only the 0.12 netted moves, in one payment
    assert [(item.payer, item.payee, item.amount) for item in cash.gross_by_direction] == [
        ("rideco", "starlodge", Decimal("0.62")),
        ("starlodge", "rideco", Decimal("0.50")),
    ]
    assert (cash.net_cash_moving, cash.payments) == (Decimal("0.12"), 1)
    assert report.rounding.settled_total == Decimal("1.12")
    [pair] = report.bilateral
    assert (pair.payer, pair.payee, pair.amount) == ("rideco", "starlodge", Decimal("0.12"))
    assert (pair.gross_payer_to_payee, pair.gross_payee_to_payer) == (
        Decimal("0.62"),
        Decimal("0.50"),
    )
    # And rideco's one remittance pays starlodge 0.12, not paid yet
    [remittance] = report.remittances
    assert (remittance.payer, remittance.payer_name, remittance.total, remittance.paid) == (
        "rideco",
        "RideCo",
        Decimal("0.12"),
        False,
    )
    # And the HTML and the CSV say 0.12 moves, never that 1.12 was "settled"
    page = render_html(report)
    assert "0.12 USD in 1 payment" in page and "Settled total" not in page
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [row["amount"] for row in rows if row["row"] == "net_cash"] == ["0.12"]


def test_a_partner_without_a_name_is_shown_by_id_and_a_name_is_never_markup() -> None:
    # Given starlodge unnamed in the directory and rideco named with markup
    report = build_report(settled(TWO_WAYS), {"rideco": "<b>Ride</b>"}, NO_DETAIL)
    # When the HTML report is rendered
    page = render_html(report)
    # Then starlodge is its id, and rideco's name is escaped beside its id
    assert '&lt;b&gt;Ride&lt;/b&gt; <span class="id">(rideco)</span>' in page
    assert "<b>Ride</b>" not in page
    assert report.partners[1].model_dump() == {"partner_id": "starlodge", "name": None}


def test_one_price_written_two_ways_is_one_price() -> None:
    # Given a price seen as 0.0025 and as 0.00250, and another
    # When the line's prices are merged
    prices = merged_prices([Decimal("0.0030"), Decimal("0.0025")], [Decimal("0.00250")])
    # Then each price is listed once, lowest first
    assert prices == [Decimal("0.0025"), Decimal("0.0030")]


def test_a_settlement_stored_before_provisional_was_recorded_is_read_by_its_dates() -> None:
    # Given stored settlements without the field: one run on its period's last day, one after
    on_the_day = settled(TWO_WAYS, started_at=datetime(2026, 12, 3, 23, 0, tzinfo=UTC))
    after = settled(TWO_WAYS)
    stored = [
        json.loads(item.model_dump_json(exclude={"provisional"})) for item in (on_the_day, after)
    ]
    # When they are read back
    read = [Settlement.model_validate(item) for item in stored]
    # Then the first is provisional and the second is not
    assert [item.provisional for item in read] == [True, False]


def test_the_detail_of_a_line_is_its_obligations_and_an_adjustment_only_the_new_ones() -> None:
    # Given a settlement of the day's obligations, recorded, frozen, and a later run with one more
    store = MemoryReports()
    base = settled(TWO_WAYS, store=store, status=SettlementStatus.APPROVED)
    late = obligation(9, "rideco", "starlodge", "STAR", 40, "0.0025")
    rerun = settled([*TWO_WAYS, late], run_id="run_2", store=store)
    from pointsnet.settlement.arithmetic import difference

    owed = difference(rerun.lines, base.lines)
    adjustment = rerun.model_copy(
        update={
            "settlement_id": "stl_20261203_20261203_a1",
            "kind": SettlementKind.ADJUSTMENT,
            "adjusts": base.settlement_id,
            **vars(figures_of(owed, "USD")),
        }
    )
    # When each one's detail is read
    of_base = line_detail(store, base)
    of_adjustment = line_detail(store, adjustment, [base])
    # Then the settlement's lines are each their obligations, and the adjustment's the new one
    assert of_base.status == DetailStatus.RECORDED
    assert {key: [row.transaction_id for row in rows] for key, rows in of_base.rows.items()} == {
        ("rideco", "starlodge", "STAR"): ["txn_0001", "txn_0002"],
        ("starlodge", "rideco", "RIDE"): ["txn_0003"],
    }
    assert of_adjustment.status == DetailStatus.RECORDED
    assert [row.obligation_id for rows in of_adjustment.rows.values() for row in rows] == [
        obligation_id_for("txn_0009")
    ]
    # And the JSON report names them beside each line
    line = build_report(base, {}, of_base).lines[0]
    assert (line.obligation_ids, line.transaction_ids) == (
        ["obl_0001", "obl_0002"],
        ["txn_0001", "txn_0002"],
    )


def test_detail_that_does_not_add_up_to_its_lines_is_incomplete() -> None:
    # Given a settlement whose recorded detail lacks one of its obligations
    store = MemoryReports()
    recorded = settled(TWO_WAYS[:2], store=store)
    claimed = settled(TWO_WAYS).model_copy(update={"run": recorded.run})
    # When its detail is read
    detail = line_detail(store, claimed)
    # Then it is incomplete, and lists nothing
    assert (detail.status, detail.rows) == (DetailStatus.INCOMPLETE, {})
