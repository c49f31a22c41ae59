"""Settlement reports: CSV for a spreadsheet, JSON for a program, HTML for a person, and the
line detail CSV (one row per obligation) behind the lines.

Every report is rendered from a `SettlementReport`: the stored settlement, the partners'
names, its adjustments and the obligation detail its run recorded. A copy of each is kept per
version in the reports bucket, replaced when one of those changed (a new adjustment, a
renamed partner), so what finance saw stays readable in the bucket's versions.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from pointsnet.clock import rfc3339
from pointsnet.errors import PointsNetError
from pointsnet.observability import logger
from pointsnet.settlement.line_detail import LineDetail
from pointsnet.settlement.report_html import render_html
from pointsnet.settlement.report_view import (
    DirectionTotal,
    ReportBilateral,
    ReportLine,
    SettlementReport,
)

if TYPE_CHECKING:
    from pointsnet.settlement.ports import ReportStore


class ReportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"
    HTML = "html"


class ReportDetail(StrEnum):
    """`detail=lines`: the line detail CSV, one row per obligation (CSV only)."""

    LINES = "lines"


CONTENT_TYPES: dict[ReportFormat, str] = {
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.JSON: "application/json",
    ReportFormat.HTML: "text/html; charset=utf-8",
}


def report_key(
    settlement_id: str,
    version: int,
    report_format: ReportFormat,
    detail: ReportDetail | None = None,
) -> str:
    """Each version of a settlement keeps its own reports: what was approved stays readable."""
    if detail == ReportDetail.LINES:
        return f"settlements/{settlement_id}/v{version}/lines.csv"
    return f"settlements/{settlement_id}/v{version}/report.{report_format.value}"


def render(report: SettlementReport, report_format: ReportFormat) -> str:
    if report_format == ReportFormat.CSV:
        return render_csv(report)
    if report_format == ReportFormat.HTML:
        return render_html(report)
    return report.model_dump_json(indent=2) + "\n"


def keep(store: ReportStore, key: str, body: str, content_type: str) -> None:
    """Store a rendered report unless the bucket holds it already, byte for byte.

    A failure is logged, not raised: the report is answered all the same, and rendered
    again from the settlement when next asked for.
    """
    encoded = body.encode("utf-8")
    try:
        if store.get(key) == encoded:
            return
        store.put(key, encoded, content_type)
    except PointsNetError:
        logger.exception("report not stored", extra={"key": key})


def publish(store: ReportStore, report: SettlementReport, detail: LineDetail) -> None:
    """Keep every format of the settlement's current version, and its line detail."""
    for report_format in ReportFormat:
        keep(
            store,
            report_key(report.settlement_id, report.version, report_format),
            render(report, report_format),
            CONTENT_TYPES[report_format],
        )
    if detail.recorded:
        keep(
            store,
            report_key(report.settlement_id, report.version, ReportFormat.CSV, ReportDetail.LINES),
            render_line_detail(report, detail),
            CONTENT_TYPES[ReportFormat.CSV],
        )


# CSV

# The first thirteen are the report's first columns, kept in place; the rest were added.
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
    "payer_name",
    "payee_name",
    "partner_id",
    "partner_name",
    "unit_prices",
    "obligations",
    "payments",
    "payment_reference",
    "paid_at",
    "kind",
    "adjusts",
    "adjustments",
    "provisional",
)
LINE_DETAIL_COLUMNS = (
    "settlement_id",
    "period_start",
    "period_end",
    "currency",
    "status",
    "provisional",
    "row",
    "payer",
    "payer_name",
    "payee",
    "payee_name",
    "program",
    "obligation_id",
    "transaction_id",
    "kind",
    "created_at",
    "points",
    "unit_price",
    "amount",
    "rounded_amount",
    "rounding",
    "obligations",
)
# What a spreadsheet may run as a formula when a cell starts with it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs: formula-like text gets a leading '."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv_head(report: SettlementReport) -> dict[str, str]:
    """What every row of a report's CSV repeats: the settlement it belongs to."""
    return {
        "settlement_id": report.settlement_id,
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(),
        "currency": report.currency,
        "status": report.status.value,
        "kind": report.kind.value,
        "adjusts": report.adjusts or "",
        "adjustments": " ".join(report.adjustments),
        "provisional": _bool(report.provisional),
    }


def _between(item: ReportLine | DirectionTotal | ReportBilateral) -> dict[str, str]:
    """The payer and payee of a line, a direction's gross or a bilateral payment, named."""
    return {
        "payer": item.payer,
        "payee": item.payee,
        "payer_name": item.payer_name or "",
        "payee_name": item.payee_name or "",
    }


def render_csv(report: SettlementReport) -> str:
    """Row kinds, in this order: `line` (one per line), `rounding_residual`, `gross` (per
    payer and payee, all programs), `bilateral` (each pair netted to one payment),
    `net_position` (per partner), `net_cash` (the money that moves), `remittance` (each
    payment a payer makes) and `remittance_total` (per payer)."""
    head = _csv_head(report)
    rows: list[dict[str, str]] = []
    for line in report.lines:
        rows.append(
            {
                "row": "line",
                **_between(line),
                "program": line.program,
                "points": str(line.points),
                "exact_amount": str(line.exact_amount),
                "amount": str(line.amount),
                "rounding": str(line.rounding),
                "unit_prices": " ".join(str(price) for price in line.unit_prices),
                "obligations": str(line.obligations),
            }
        )
    rounding = report.rounding
    rows.append(
        {
            "row": "rounding_residual",
            "exact_amount": str(rounding.exact_total),
            "amount": str(rounding.settled_total),
            "rounding": str(rounding.residual),
        }
    )
    for gross in report.cash.gross_by_direction:
        rows.append(
            {
                "row": "gross",
                **_between(gross),
                "amount": str(gross.amount),
                "obligations": str(gross.obligations),
            }
        )
    for net in report.bilateral:
        rows.append(
            {
                "row": "bilateral",
                **_between(net),
                "amount": str(net.amount),
            }
        )
    for position in report.net_positions:
        rows.append(
            {
                "row": "net_position",
                "amount": str(position.amount),
                "partner_id": position.partner_id,
                "partner_name": position.name or "",
            }
        )
    rows.append(
        {
            "row": "net_cash",
            "amount": str(report.cash.net_cash_moving),
            "payments": str(report.cash.payments),
        }
    )
    for remittance in report.remittances:
        paid = {
            "payment_reference": remittance.payment_reference or "",
            "paid_at": rfc3339(remittance.paid_at) if remittance.paid_at else "",
        }
        for payment in remittance.payments:
            rows.append(
                {
                    "row": "remittance",
                    "payer": remittance.payer,
                    "payee": payment.payee,
                    "amount": str(payment.amount),
                    "payer_name": remittance.payer_name or "",
                    "payee_name": payment.payee_name or "",
                }
                | paid
            )
        rows.append(
            {
                "row": "remittance_total",
                "payer": remittance.payer,
                "amount": str(remittance.total),
                "payer_name": remittance.payer_name or "",
                "payments": str(len(remittance.payments)),
            }
            | paid
        )
    return _csv(CSV_COLUMNS, (head | row for row in rows))


def render_line_detail(report: SettlementReport, detail: LineDetail) -> str:
    """Per line: one `obligation` row per obligation (its amount exact), then a `line_total`
    row (the exact sum, the line's rounded amount and its rounding)."""
    head = {
        name: value
        for name, value in _csv_head(report).items()
        if name not in ("kind", "adjusts", "adjustments")
    }
    rows: list[dict[str, str]] = []
    for line in report.lines:
        names = {
            "payer": line.payer,
            "payer_name": line.payer_name or "",
            "payee": line.payee,
            "payee_name": line.payee_name or "",
            "program": line.program,
        }
        for obligation in detail.rows.get((line.payer, line.payee, line.program), []):
            rows.append(
                names
                | {
                    "row": "obligation",
                    "obligation_id": obligation.obligation_id,
                    "transaction_id": obligation.transaction_id,
                    "kind": obligation.kind,
                    "created_at": rfc3339(obligation.created_at),
                    "points": str(obligation.points),
                    "unit_price": str(obligation.unit_price),
                    "amount": str(obligation.amount),
                    "currency": obligation.currency,
                }
            )
        rows.append(
            names
            | {
                "row": "line_total",
                "points": str(line.points),
                "unit_price": " ".join(str(price) for price in line.unit_prices),
                "amount": str(line.exact_amount),
                "rounded_amount": str(line.amount),
                "rounding": str(line.rounding),
                "obligations": str(line.obligations),
            }
        )
    return _csv(LINE_DETAIL_COLUMNS, (head | row for row in rows))


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([spreadsheet_safe(row.get(column, "")) for column in columns])
    return out.getvalue()


def _bool(value: bool) -> str:
    return "true" if value else "false"
