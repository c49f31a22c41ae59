"""Settlement reports: CSV for a spreadsheet, JSON for a program, HTML for a person.

Every report is rendered from the stored settlement alone, so a report of a version can
always be rendered again and is the same.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import StrEnum
from html import escape
from typing import TYPE_CHECKING

from pointsnet.clock import rfc3339
from pointsnet.observability import logger
from pointsnet.settlement.models import Settlement

if TYPE_CHECKING:
    from pointsnet.settlement.ports import ReportStore


class ReportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    HTML = "html"


CONTENT_TYPES: dict[ReportFormat, str] = {
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.JSON: "application/json",
    ReportFormat.HTML: "text/html; charset=utf-8",
}


def report_key(settlement_id: str, version: int, report_format: ReportFormat) -> str:
    """Each version of a settlement keeps its own reports: what was approved stays readable."""
    return f"settlements/{settlement_id}/v{version}/report.{report_format.value}"


def render(settlement: Settlement, report_format: ReportFormat) -> str:
    if report_format == ReportFormat.CSV:
        return render_csv(settlement)
    if report_format == ReportFormat.HTML:
        return render_html(settlement)
    return settlement.model_dump_json(indent=2) + "\n"


def publish(store: ReportStore, settlement: Settlement) -> None:
    """Store every format of the settlement's current version.

    A failure is logged, not raised: the settlement is already written, and a report
    missing from the store is rendered again from it when asked for.
    """
    for report_format in ReportFormat:
        try:
            store.put(
                report_key(settlement.settlement_id, settlement.version, report_format),
                render(settlement, report_format).encode("utf-8"),
                CONTENT_TYPES[report_format],
            )
        except Exception:
            logger.exception(
                "report not stored",
                extra={"settlement_id": settlement.settlement_id, "format": report_format.value},
            )


# CSV

CSV_COLUMNS = (
    "settlement_id",
    "period_start",
    "period_end",
    "currency",
    "status",
    "row",
    "payer",
    "payee",
    "program",
    "points",
    "exact_amount",
    "amount",
    "rounding",
)
# What a spreadsheet may run as a formula when a cell starts with it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs: formula-like text gets a leading '."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def render_csv(settlement: Settlement) -> str:
    """One header row, one row per line, then the rounding residual on its own row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    head = [
        settlement.settlement_id,
        settlement.period_start.isoformat(),
        settlement.period_end.isoformat(),
        settlement.currency,
        settlement.status.value,
    ]
    for line in settlement.lines:
        row = [
            "line",
            line.payer,
            line.payee,
            line.program,
            str(line.points),
            str(line.exact_amount),
            str(line.amount),
            str(line.rounding),
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in head + row])
    rounding = settlement.rounding
    residual = [
        "rounding_residual",
        "",
        "",
        "",
        "",
        str(rounding.exact_total),
        str(rounding.settled_total),
        str(rounding.residual),
    ]
    writer.writerow([spreadsheet_safe(cell) for cell in head + residual])
    return out.getvalue()


# HTML

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232a;
       margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #ccd; padding-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ea;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.summary dt { color: #5b6470; }
.status { font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.ok { color: #17623a; } .failed { color: #a3161b; font-weight: 600; }
svg text { font: 12px system-ui, sans-serif; fill: #1d232a; }
.bar-in { fill: #2e7d4f; } .bar-out { fill: #b2452f; } .axis { stroke: #5b6470; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; color: #000; }
  h2 { break-after: avoid; }
  table, svg, dl { break-inside: avoid; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .bar-in, .bar-out { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""

CHART_WIDTH = 640
CHART_LABEL_WIDTH = 150
CHART_VALUE_WIDTH = 110
CHART_ROW_HEIGHT = 26


def render_html(settlement: Settlement) -> str:
    title = f"Settlement {settlement.settlement_id}"
    failed = settlement.checks_failed
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        '<dl class="summary">',
        _term("Period", f"{settlement.period_start} to {settlement.period_end} (UTC days)"),
        _term(
            "Kind",
            f"adjustment of {settlement.adjusts}" if settlement.adjusts else settlement.kind.value,
        ),
        f'<dt>Status</dt><dd class="status">{_text(settlement.status.value)}</dd>',
        _term("Currency", settlement.currency),
        _term("Settled total", f"{settlement.rounding.settled_total} {settlement.currency}"),
        _term("Lines", str(len(settlement.lines))),
        _term(
            "Checks",
            "all passed"
            if not failed
            else f"{len(failed)} failed: " + ", ".join(check.name for check in failed),
        ),
        _term("Version", str(settlement.version)),
        _term("Updated", rfc3339(settlement.updated_at)),
    ]
    if settlement.payment_reference:
        parts.append(_term("Payment reference", settlement.payment_reference))
    parts.append("</dl>")

    parts.append("<h2>Net positions</h2>")
    parts.append(net_position_chart(settlement))
    parts.append(
        _table(
            ["Partner", "Position", "Net amount"],
            [
                [
                    position.partner_id,
                    "receives"
                    if position.amount > 0
                    else "pays"
                    if position.amount < 0
                    else "even",
                    _signed(position.amount),
                ]
                for position in settlement.net_positions
            ],
            numeric={2},
        )
    )

    parts.append("<h2>Lines</h2>")
    parts.append(
        "<p>One line per payer, payee and program. Each amount is the exact amount rounded "
        f"{_text(settlement.rounding.rule)}.</p>"
    )
    line_rows = [
        [
            line.payer,
            line.payee,
            line.program,
            str(line.points),
            str(line.exact_amount),
            str(line.amount),
            str(line.rounding),
        ]
        for line in settlement.lines
    ]
    line_rows.append(
        [
            "Rounding residual",
            "",
            "",
            "",
            str(settlement.rounding.exact_total),
            str(settlement.rounding.settled_total),
            str(settlement.rounding.residual),
        ]
    )
    parts.append(
        _table(
            ["Payer", "Payee", "Program", "Points", "Exact amount", "Amount", "Rounding"],
            line_rows,
            numeric={3, 4, 5, 6},
        )
    )

    parts.append("<h2>Bilateral netting</h2>")
    parts.append(
        _table(
            ["Payer", "Payee", "Amount"],
            [[net.payer, net.payee, str(net.amount)] for net in settlement.bilateral],
            numeric={2},
        )
    )

    parts.append("<h2>Checks</h2>")
    check_rows = []
    for check in settlement.checks:
        details = "; ".join(f"{detail.id}: {detail.message}" for detail in check.details)
        if check.offending > len(check.details):
            details += f" (and {check.offending - len(check.details)} more)"
        check_rows.append(
            [check.name, "passed" if check.ok else "FAILED", check.description, details]
        )
    parts.append(
        _table(
            ["Check", "Outcome", "What it verifies", "Offending ids"],
            check_rows,
            classes={1: lambda value: "ok" if value == "passed" else "failed"},
        )
    )

    parts.append("<h2>Audit trail</h2>")
    parts.append(
        _table(
            ["When (UTC)", "Action", "From", "To", "Who", "Key", "Why"],
            [
                [
                    rfc3339(entry.at),
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
                for entry in settlement.audit
            ],
        )
    )
    run = settlement.run
    parts.append(
        f"<p>Run {_text(run.run_id)}: {run.transactions} transactions, "
        f"{run.cross_partner_transactions} cross-partner, {run.obligations} obligations and "
        f"{run.accounts_checked} accounts read in {run.invocations} invocation(s), "
        f"{_text(rfc3339(run.started_at))} to {_text(rfc3339(run.finished_at))}.</p>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def net_position_chart(settlement: Settlement) -> str:
    """A horizontal bar per partner: right of the axis receives, left of it pays."""
    positions = settlement.net_positions
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
        rows.append(
            f'<text x="{CHART_LABEL_WIDTH - 8}" y="{top + 16}" text-anchor="end">'
            f"{_text(position.partner_id)}</text>"
            f'<rect class="{css}" x="{left}" y="{top + 4}" width="{length}" '
            f'height="{CHART_ROW_HEIGHT - 8}"><title>{_text(position.partner_id)} '
            f"{_signed(position.amount)} {_text(settlement.currency)}</title></rect>"
            f'<text x="{CHART_WIDTH - 4}" y="{top + 16}" text-anchor="end">'
            f"{_signed(position.amount)} {_text(settlement.currency)}</text>"
        )
    return (
        f'<svg role="img" aria-label="Net position per partner" width="{CHART_WIDTH}" '
        f'height="{height}" viewBox="0 0 {CHART_WIDTH} {height}">'
        f"<title>Net position per partner ({_text(settlement.currency)})</title>"
        + "".join(rows)
        + f'<line class="axis" x1="{axis}" y1="0" x2="{axis}" y2="{height}"/></svg>'
    )


def _text(value: str) -> str:
    return escape(value, quote=True)


def _signed(amount: Decimal) -> str:
    """A net amount with its direction: +12.50 received, -12.50 paid."""
    return f"{amount:+}" if amount else str(amount)


def _term(name: str, value: str) -> str:
    return f"<dt>{_text(name)}</dt><dd>{_text(value)}</dd>"


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: set[int] | None = None,
    classes: dict[int, Callable[[str], str]] | None = None,
) -> str:
    numeric = numeric or set()
    head = "".join(
        f"<th{_class_attribute(['num'] if index in numeric else [])}>{_text(header)}</th>"
        for index, header in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            css = []
            if index in numeric:
                css.append("num")
            chooser = (classes or {}).get(index)
            if chooser is not None:
                css.append(chooser(value))
            cells.append(f"<td{_class_attribute(css)}>{_text(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(headers)}">None.</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _class_attribute(classes: Sequence[str]) -> str:
    return f' class="{" ".join(classes)}"' if classes else ""
