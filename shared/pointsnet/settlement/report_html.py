"""The HTML report: a settlement laid out for the finance analyst who reviews and pays it.

Partners by name (their id beside), every amount with its currency, times as a person reads
them ("3 Dec 2026, 14:05 UTC"), the cash that moves before the detail that explains it, and
a notice on top when the figures are provisional or were adjusted later.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from pointsnet.settlement.line_detail import DetailStatus
from pointsnet.settlement.report_markup import (
    Cell,
    Markup,
    count,
    money,
    readable_day,
    readable_time,
    signed_money,
    table,
    term,
    text,
)
from pointsnet.settlement.report_view import SettlementReport

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232a;
       margin: 2rem auto; max-width: 64rem; padding: 0 1rem; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #ccd; padding-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ea;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 1px solid #5b6470; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.summary dt { color: #5b6470; }
.id { color: #5b6470; font-size: .9em; }
.status { font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.ok { color: #17623a; } .failed { color: #a3161b; font-weight: 600; }
.notice { border: 2px solid #c98a00; background: #fff3cd; padding: .6rem .9rem; margin: 1rem 0;
          border-radius: 4px; }
.notice.adjusted { border-color: #2f5d9e; background: #e6eefa; }
.badge { font-size: .8rem; font-weight: 600; text-transform: uppercase; letter-spacing: .04em;
         background: #c98a00; color: #fff; padding: .1rem .4rem; border-radius: 3px;
         vertical-align: middle; }
.cash { font-size: 1.05rem; font-weight: 600; }
svg text { font: 12px system-ui, sans-serif; fill: #1d232a; }
.bar-in { fill: #2e7d4f; } .bar-out { fill: #b2452f; } .axis { stroke: #5b6470; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; color: #000; }
  h2 { break-after: avoid; }
  table, svg, dl, .notice { break-inside: avoid; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .bar-in, .bar-out, .notice, .badge { print-color-adjust: exact;
                                       -webkit-print-color-adjust: exact; }
}
"""

CHART_WIDTH = 680
CHART_LABEL_WIDTH = 190
CHART_VALUE_WIDTH = 110
CHART_ROW_HEIGHT = 26
CHART_LABEL_CHARACTERS = 26


def render_html(report: SettlementReport) -> str:
    names = {partner.partner_id: partner.name for partner in report.partners}

    def partner(partner_id: str) -> Markup:
        name = names.get(partner_id)
        if not name:
            return Markup(text(partner_id))
        return Markup(f'{text(name)} <span class="id">({text(partner_id)})</span>')

    def plain(partner_id: str) -> str:
        name = names.get(partner_id)
        return f"{name} ({partner_id})" if name else partner_id

    title = ("Adjustment " if report.adjusts else "Settlement ") + report.settlement_id
    badge = ' <span class="badge">Provisional</span>' if report.provisional else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{text(title)}{' (provisional)' if report.provisional else ''}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{text(title)}{badge}</h1>",
        *_notices(report),
        _summary(report, plain),
        "<h2>Cash: gross per direction, and what moves</h2>",
        "<p>Each pair of partners settles with one payment: what each owes the other across "
        "every program, netted.</p>",
        _cash_table(report, partner),
        "<h2>Remittances</h2>",
        "<p>One per payer: what it pays whom.</p>",
        _remittances(report, partner),
        "<h2>Net positions</h2>",
        "<p>Each partner's position across every line: what it receives less what it pays.</p>",
        net_position_chart(report, names),
        table(
            ["Partner", "Position", "Net amount"],
            [
                [
                    partner(position.partner_id),
                    "receives"
                    if position.amount > 0
                    else "pays"
                    if position.amount < 0
                    else "even",
                    signed_money(position.amount, report.currency),
                ]
                for position in report.net_positions
            ],
            numeric={2},
        ),
        "<h2>Lines</h2>",
        _lines(report, partner),
        "<h2>Checks</h2>",
        _checks(report),
        "<h2>Audit trail</h2>",
        _audit(report),
        _run(report),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _notices(report: SettlementReport) -> list[str]:
    notices = []
    if report.provisional:
        notices.append(
            '<div class="notice provisional" role="note"><strong>Provisional.</strong> The '
            f"period ends on {text(readable_day(report.period_end))} and this run started on "
            f"{text(readable_time(report.run.started_at))}, before it ended: obligations "
            "posted later in the period are not in these figures. A later run of the period "
            "may produce an adjustment of them once this settlement is approved, or replace "
            "them before then.</div>"
        )
    if report.adjusts:
        notices.append(
            '<div class="notice adjusted" role="note"><strong>Adjustment.</strong> These '
            f"figures correct {text(report.adjusts)}, frozen before a later run of the period "
            "found a difference: what the period owes is that settlement plus its "
            "adjustments.</div>"
        )
    if report.adjustments:
        notices.append(
            '<div class="notice adjusted" role="note"><strong>Adjusted.</strong> Later runs '
            "of the period found differences, settled by "
            + ", ".join(text(item) for item in report.adjustments)
            + ": what the period owes is this settlement plus its adjustments.</div>"
        )
    return notices


def _summary(report: SettlementReport, plain: Callable[[str], str]) -> str:
    currency = report.currency
    cash = report.cash
    failed = report.checks_failed
    gross = "<br>".join(
        text(f"{plain(item.payer)} owes {plain(item.payee)} {money(item.amount, currency)}")
        for item in cash.gross_by_direction
    )
    obligations = sum(line.obligations for line in report.lines)
    period = (
        f"{readable_day(report.period_start)} (one UTC day)"
        if report.period_start == report.period_end
        else f"{readable_day(report.period_start)} to {readable_day(report.period_end)} "
        "(UTC days, both included)"
    )
    rows = [
        term("Period", period),
        term(
            "Kind",
            f"adjustment of {report.adjusts}" if report.adjusts else report.kind.value,
        ),
    ]
    if not report.adjusts:
        rows.append(term("Adjustments", ", ".join(report.adjustments) or "none"))
    rows += [
        f'<dt>Status</dt><dd class="status">{text(report.status.value)}'
        f"{' (provisional)' if report.provisional else ''}</dd>",
        term("Currency", currency),
        "<dt>Net cash moving</dt>"
        f'<dd class="cash">{text(money(cash.net_cash_moving, currency))} in '
        f"{count(cash.payments, 'payment')}</dd>",
        f"<dt>Gross owed, per direction</dt><dd>{gross or 'nothing'}</dd>",
        term("Lines", f"{len(report.lines)} ({count(obligations, 'obligation')})"),
        term(
            "Checks",
            "all passed"
            if not failed
            else f"{len(failed)} failed: " + ", ".join(check.name for check in failed),
        ),
        term("Version", str(report.version)),
        term("Created", readable_time(report.created_at)),
        term("Updated", readable_time(report.updated_at)),
    ]
    if report.payment_reference:
        rows.append(term("Payment reference", report.payment_reference))
    return '<dl class="summary">' + "".join(rows) + "</dl>"


def _cash_table(report: SettlementReport, partner: Callable[[str], Markup]) -> str:
    currency = report.currency
    rows: list[list[Cell]] = [
        [
            partner(net.payer),
            partner(net.payee),
            money(net.gross_payer_to_payee, currency),
            money(net.gross_payee_to_payer, currency),
            money(net.amount, currency) if net.amount else "nothing moves",
        ]
        for net in report.bilateral
    ]
    rows.append(
        [
            "Net cash moving",
            "",
            "",
            "",
            money(report.cash.net_cash_moving, currency),
        ]
    )
    return table(
        ["Pays", "Is paid", "Owed by the payer (gross)", "Owed back (gross)", "Net payment"],
        rows,
        numeric={2, 3, 4},
        total_last=True,
    )


def _remittances(report: SettlementReport, partner: Callable[[str], Markup]) -> str:
    if not report.remittances:
        return "<p>Nothing to pay.</p>"
    rows: list[list[Cell]] = []
    for remittance in report.remittances:
        if remittance.paid:
            paid = "paid"
            if remittance.paid_at:
                paid += f" {readable_time(remittance.paid_at)}"
            if remittance.payment_reference:
                paid += f", reference {remittance.payment_reference}"
        else:
            paid = "not paid yet"
        for payment in remittance.payments:
            rows.append(
                [
                    partner(remittance.payer),
                    partner(payment.payee),
                    money(payment.amount, report.currency),
                    paid,
                ]
            )
        if len(remittance.payments) > 1:
            rows.append(
                [
                    partner(remittance.payer),
                    "in total",
                    money(remittance.total, report.currency),
                    paid,
                ]
            )
    return table(["Payer", "Pays", "Amount", "Payment"], rows, numeric={2})


def _lines(report: SettlementReport, partner: Callable[[str], Markup]) -> str:
    currency = report.currency
    rows: list[list[Cell]] = [
        [
            partner(line.payer),
            partner(line.payee),
            line.program,
            str(line.points),
            ", ".join(f"{price} {currency}" for price in line.unit_prices) or "not recorded",
            str(line.obligations),
            money(line.exact_amount, currency),
            money(line.amount, currency),
            str(line.rounding),
        ]
        for line in report.lines
    ]
    rows.append(
        [
            "Rounding residual (every line, both directions)",
            "",
            "",
            "",
            "",
            "",
            money(report.rounding.exact_total, currency),
            money(report.rounding.settled_total, currency),
            str(report.rounding.residual),
        ]
    )
    detail = {
        DetailStatus.RECORDED: (
            "The obligations behind each line (one row per obligation: obligation id, "
            "transaction id, kind, time, points, price and amount) are in the line detail "
            f"CSV, <code>GET {text(report.detail.csv)}</code>; the JSON report lists each "
            "line's obligation and transaction ids."
        ),
        DetailStatus.NOT_RECORDED: (
            "This version's run recorded no obligation detail: a new run of the period does."
        ),
        DetailStatus.INCOMPLETE: (
            "Some of this run's obligation detail is missing: a new run of the period "
            "records it again."
        ),
    }[report.detail.status]
    return (
        "<p>One line per payer, payee and program: its points at the point value (the price "
        "per point) of its obligations. Each amount is the exact amount rounded "
        f"{text(report.rounding.rule)}.</p>"
        + table(
            [
                "Payer",
                "Payee",
                "Program",
                "Points",
                "Point value",
                "Obligations",
                "Exact amount",
                "Amount",
                "Rounding",
            ],
            rows,
            numeric={3, 4, 5, 6, 7, 8},
            total_last=True,
        )
        + f"<p>{detail}</p>"
    )


def _checks(report: SettlementReport) -> str:
    rows: list[list[Cell]] = []
    for check in report.checks:
        details = "; ".join(f"{detail.id}: {detail.message}" for detail in check.details)
        if check.offending > len(check.details):
            details += f" (and {check.offending - len(check.details)} more)"
        rows.append([check.name, "passed" if check.ok else "FAILED", check.description, details])
    return table(
        ["Check", "Outcome", "What it verifies", "Offending ids"],
        rows,
        classes={1: lambda value: "ok" if value == "passed" else "failed"},
    )


def _audit(report: SettlementReport) -> str:
    return table(
        ["When", "Action", "From", "To", "Who", "Key", "Why"],
        [
            [
                readable_time(entry.at),
                entry.action,
                entry.from_status.value if entry.from_status else "",
                entry.to_status.value,
                entry.partner_id,
                entry.key_id or "",
                " ".join(
                    part
                    for part in (
                        entry.reason or "",
                        f"payment reference {entry.payment_reference}"
                        if entry.payment_reference
                        else "",
                    )
                    if part
                ),
            ]
            for entry in report.audit
        ],
    )


def _run(report: SettlementReport) -> str:
    run = report.run
    return (
        f"<p>Run {text(run.run_id)}: {run.transactions} transactions, "
        f"{run.cross_partner_transactions} cross-partner, {run.obligations} obligations and "
        f"{run.accounts_checked} accounts read in {run.invocations} invocation(s), "
        f"{text(readable_time(run.started_at))} to {text(readable_time(run.finished_at))}.</p>"
    )


def net_position_chart(report: SettlementReport, names: dict[str, str | None]) -> str:
    """A horizontal bar per partner: right of the axis receives, left of it pays."""
    positions = report.net_positions
    currency = report.currency
    if not positions:
        return "<p>No cross-partner activity in this period.</p>"
    largest = max(abs(position.amount) for position in positions) or Decimal(1)
    half = (CHART_WIDTH - CHART_LABEL_WIDTH - CHART_VALUE_WIDTH) // 2
    axis = CHART_LABEL_WIDTH + half
    height = CHART_ROW_HEIGHT * len(positions) + 10
    rows = []
    for index, position in enumerate(positions):
        top = 5 + index * CHART_ROW_HEIGHT
        # Pixels, not money: a whole number scaled with Decimal, so no float enters.
        length = int((abs(position.amount) / largest * half).to_integral_value())
        left = axis if position.amount >= 0 else axis - length
        css = "bar-in" if position.amount >= 0 else "bar-out"
        name = names.get(position.partner_id) or position.partner_id
        label = (
            name
            if len(name) <= CHART_LABEL_CHARACTERS
            else name[: CHART_LABEL_CHARACTERS - 1] + "…"
        )
        amount = signed_money(position.amount, currency)
        rows.append(
            f'<text x="{CHART_LABEL_WIDTH - 8}" y="{top + 16}" text-anchor="end">'
            f"{text(label)}</text>"
            f'<rect class="{css}" x="{left}" y="{top + 4}" width="{length}" '
            f'height="{CHART_ROW_HEIGHT - 8}"><title>{text(name)} ({text(position.partner_id)}) '
            f"{text(amount)}</title></rect>"
            f'<text x="{CHART_WIDTH - 4}" y="{top + 16}" text-anchor="end">{text(amount)}</text>'
        )
    return (
        f'<svg role="img" aria-label="Net position per partner" width="{CHART_WIDTH}" '
        f'height="{height}" viewBox="0 0 {CHART_WIDTH} {height}">'
        f"<title>Net position per partner ({text(currency)})</title>"
        + "".join(rows)
        + f'<line class="axis" x1="{axis}" y1="0" x2="{axis}" y2="{height}"/></svg>'
    )
