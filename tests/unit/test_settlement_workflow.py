"""The settlement workflow and the reports rendered from a settlement."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pointsnet.errors import Conflict
from pointsnet.ledger.models import ObligationTerms, Posting, Transaction, TransactionType
from pointsnet.settlement.arithmetic import LineTotals, figures_of, settle_lines
from pointsnet.settlement.checks import (
    MAX_DETAILS,
    CheckName,
    Findings,
    build_checks,
    expects_obligation,
    new_findings,
)
from pointsnet.settlement.line_detail import DetailStatus, LineDetail
from pointsnet.settlement.models import (
    Actor,
    AuditEntry,
    Period,
    RunSummary,
    Settlement,
    SettlementStatus,
)
from pointsnet.settlement.report_html import render_html
from pointsnet.settlement.report_view import SettlementReport, build_report
from pointsnet.settlement.reports import render_csv, spreadsheet_safe
from pointsnet.settlement.workflow import Action, transition

NOW = datetime(2025, 3, 2, 0, 15, tzinfo=UTC)
FINANCE = Actor(partner_id="network", key_id="pnk_finance")


def settlement(status: SettlementStatus = SettlementStatus.DRAFT, **changes: object) -> Settlement:
    totals = LineTotals()
    for payer, payee, program, points, price in (
        ("rideco", "starlodge", "STAR", 1002, "0.0025"),
        ("starlodge", "rideco", "RIDE", 7, "0.01"),
        ("cafe", "starlodge", "STAR", 333, "0.0025"),
    ):
        totals.add(
            ObligationTerms(
                payer=payer,
                payee=payee,
                program=program,
                points=points,
                unit_price=Decimal(price),
                currency="USD",
            )
        )
    figures = figures_of(settle_lines(totals.lines.values(), "USD"), "USD")
    findings = new_findings()
    base = Settlement(
        settlement_id="stl_20250301_20250301",
        period_start=date(2025, 3, 1),
        period_end=date(2025, 3, 1),
        currency="USD",
        status=status,
        lines=figures.lines,
        bilateral=figures.bilateral,
        net_positions=figures.net_positions,
        rounding=figures.rounding,
        checks=build_checks(findings, figures.net_positions),
        audit=[
            AuditEntry(
                action="run",
                to_status=status,
                at=NOW,
                partner_id="scheduler",
                reason="scheduled reconciliation of 2025-03-01..2025-03-01",
            )
        ],
        run=RunSummary(
            run_id="run_1",
            started_at=NOW,
            finished_at=NOW,
            invocations=1,
            pages=3,
            transactions=12,
            cross_partner_transactions=3,
            obligations=3,
            accounts_checked=4,
        ),
        created_at=NOW,
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


def named(shown: Settlement, **names: str) -> SettlementReport:
    """The settlement's report, partners named as given, with no obligation detail."""
    return build_report(shown, names, LineDetail(DetailStatus.NOT_RECORDED))


# the workflow


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        (SettlementStatus.DRAFT, Action.APPROVE, SettlementStatus.APPROVED),
        (SettlementStatus.NEEDS_REVIEW, Action.APPROVE, SettlementStatus.APPROVED),
        (SettlementStatus.DRAFT, Action.DISPUTE, SettlementStatus.DISPUTED),
        (SettlementStatus.NEEDS_REVIEW, Action.DISPUTE, SettlementStatus.DISPUTED),
        (SettlementStatus.APPROVED, Action.MARK_PAID, SettlementStatus.PAID),
    ],
)
def test_a_legal_step_moves_the_settlement_and_is_recorded(
    start: SettlementStatus, action: Action, end: SettlementStatus
) -> None:
    # Given a settlement in a status from which the action is allowed
    before = settlement(start)
    # When finance takes the action, with a reason
    after = transition(before, action, FINANCE, NOW, reason="why", payment_reference="P-1")
    # Then the settlement moves to the next status, one version on,
    # and the audit trail records who did what, when and why
    assert after.status == end
    assert after.version == before.version + 1
    step = after.audit[-1]
    assert (step.action, step.from_status, step.to_status) == (action.value, start, end)
    assert (step.partner_id, step.key_id, step.reason, step.at) == (
        "network",
        "pnk_finance",
        "why",
        NOW,
    )
    # Only the status, the trail and the version move: the figures are untouched
    assert after.lines == before.lines and after.net_positions == before.net_positions


@pytest.mark.parametrize(
    ("start", "action"),
    [
        (SettlementStatus.DRAFT, Action.MARK_PAID),
        (SettlementStatus.NEEDS_REVIEW, Action.MARK_PAID),
        (SettlementStatus.APPROVED, Action.APPROVE),
        (SettlementStatus.APPROVED, Action.DISPUTE),
        (SettlementStatus.DISPUTED, Action.APPROVE),
        (SettlementStatus.DISPUTED, Action.DISPUTE),
        (SettlementStatus.DISPUTED, Action.MARK_PAID),
        (SettlementStatus.PAID, Action.APPROVE),
        (SettlementStatus.PAID, Action.DISPUTE),
        (SettlementStatus.PAID, Action.MARK_PAID),
    ],
)
def test_an_illegal_step_is_a_conflict(start: SettlementStatus, action: Action) -> None:
    # Given a settlement in a status from which the action is not allowed
    # When finance takes the action
    # Then it is a conflict naming the status the settlement is in
    with pytest.raises(Conflict) as raised:
        transition(settlement(start), action, FINANCE, NOW)
    assert raised.value.code == "conflict"
    assert start.value in raised.value.message


# checks


def transaction(
    kind: TransactionType, partner: str, initiator: str, member_points: int
) -> Transaction:
    return Transaction(
        transaction_id="txn_1",
        type=kind,
        program="STAR",
        points=abs(member_points),
        partner_id=partner,
        member_id="m-1",
        initiated_by=initiator,
        reference="r-1",
        created_at=NOW,
        postings=(
            Posting(account="program:STAR:x", points=-member_points),
            Posting(account=f"member:{partner}:m-1", points=member_points),
        ),
    )


@pytest.mark.parametrize(
    ("kind", "partner", "initiator", "member_points", "expected"),
    [
        (TransactionType.EARN, "starlodge", "rideco", 10, True),
        (TransactionType.EARN, "starlodge", "starlodge", 10, False),
        (TransactionType.REVERSAL, "starlodge", "rideco", -10, True),
        (TransactionType.BURN, "starlodge", "starlodge", -10, False),
        (TransactionType.EXCHANGE, "rideco", "starlodge", 7, True),
        (TransactionType.EXCHANGE, "starlodge", "starlodge", -30, False),
    ],
    ids=["cross earn", "own earn", "cross reversal", "burn", "credit leg", "debit leg"],
)
def test_which_transactions_must_carry_an_obligation(
    kind: TransactionType, partner: str, initiator: str, member_points: int, expected: bool
) -> None:
    # Given an earn, reversal, burn or exchange leg, made by one partner in another's program
    # or in its own
    # When it is asked whether the transaction must carry a settlement obligation
    # Then only those that cross partners must
    assert expects_obligation(transaction(kind, partner, initiator, member_points)) is expected


def test_findings_count_every_id_and_keep_the_first_ones() -> None:
    # Given a check's findings
    findings = Findings()
    # When ten more ids are found than it keeps details of
    for index in range(MAX_DETAILS + 10):
        findings.add(f"txn_{index}", "bad")
    # Then every id is counted, but only the first ones are kept in detail
    assert findings.offending == MAX_DETAILS + 10
    assert len(findings.details) == MAX_DETAILS
    assert (findings.details[0].id, findings.details[0].message) == ("txn_0", "bad")


def test_a_failed_check_says_so_and_the_others_pass() -> None:
    # Given a member balance that disagrees with its entries, and nothing else amiss
    findings = new_findings()
    findings[CheckName.BALANCES_MATCH_ENTRIES].add("member:starlodge:guest-1", "stored 5, sum 0")
    # When the settlement checks are built
    checks = build_checks(findings, [])
    # Then only the balances check fails, and every check is listed
    assert [(check.name, check.ok) for check in checks if not check.ok] == [
        ("balances_match_entries", False)
    ]
    assert len(checks) == len(CheckName)


def test_a_period_is_whole_days_in_order() -> None:
    # Given a settlement period from 30 January to 1 February
    period = Period(period_start=date(2025, 1, 30), period_end=date(2025, 2, 1))
    # When its days and its first and last moments are read
    # Then it is the three whole days, from midnight to the last microsecond
    assert list(period.days()) == [date(2025, 1, 30), date(2025, 1, 31), date(2025, 2, 1)]
    assert (period.first_moment, period.last_moment) == (
        "2025-01-30T00:00:00.000000Z",
        "2025-02-01T23:59:59.999999Z",
    )
    # And a period that ends before it starts is refused
    with pytest.raises(ValueError):
        Period(period_start=date(2025, 2, 1), period_end=date(2025, 1, 1))


# reports


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-2.43", "-2.43"),
        ("2.43", "2.43"),
        ("starlodge", "starlodge"),
    ],
)
def test_a_csv_cell_never_runs_as_a_formula(cell: str, shown: str) -> None:
    # Given a report cell that a spreadsheet might read as a formula, or a plain one
    # When it is made safe for the CSV report
    # Then a formula is quoted to be shown as text, and numbers and names are unchanged
    assert spreadsheet_safe(cell) == shown


def test_the_csv_has_a_header_a_row_per_line_and_the_residual() -> None:
    # Given a settlement of three lines
    # When its CSV report is rendered
    rendered = render_csv(named(settlement()))
    # Then it has a row per line, sorted, with its rounding, then a row for the residual
    assert rendered.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(rendered)))
    assert [row["row"] for row in rows][:4] == ["line", "line", "line", "rounding_residual"]
    first = rows[0]
    assert (first["payer"], first["payee"], first["program"], first["points"]) == (
        "cafe",
        "starlodge",
        "STAR",
        "333",
    )
    assert (first["exact_amount"], first["amount"], first["rounding"]) == (
        "0.8325",
        "0.83",
        "-0.0025",
    )
    assert rows[3]["amount"] == "3.40"


def test_the_html_report_has_the_summary_chart_lines_checks_and_trail() -> None:
    # Given a settlement under review, disputed with a reason that holds a script
    hostile = settlement(SettlementStatus.NEEDS_REVIEW)
    hostile = hostile.model_copy(
        update={
            "audit": [
                *hostile.audit,
                AuditEntry(
                    action="dispute",
                    from_status=SettlementStatus.NEEDS_REVIEW,
                    to_status=SettlementStatus.DISPUTED,
                    at=NOW,
                    partner_id="network",
                    key_id="pnk_finance",
                    reason="<script>alert(1)</script>",
                ),
            ]
        }
    )
    # When its HTML report is rendered
    page = render_html(named(hostile))
    # Then it has the net positions chart, each partner's position, a print style,
    # the residual, and the reason escaped, never run
    assert "<svg" in page and "Net position per partner" in page
    for label in ("starlodge", "+3.26 USD", "rideco", "-2.43 USD", "cafe", "-0.83 USD"):
        assert label in page
    assert "@media print" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert "Rounding residual" in page


def test_the_json_report_is_the_settlement_and_more() -> None:
    from pointsnet.settlement.reports import ReportFormat, render

    # Given a settlement
    shown = settlement()
    # When its JSON report is rendered
    rendered = json.loads(render(named(shown), ReportFormat.JSON))
    # Then it holds every field of the settlement, those of the lines among them
    for name, value in shown.model_dump(mode="json").items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            assert [
                {key: item[key] for key in part}
                for item, part in zip(rendered[name], value, strict=True)
            ] == value, name
        else:
            assert rendered[name] == value, name
