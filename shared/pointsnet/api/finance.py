"""Finance API routes: settlements, their reports and their workflow, for keys of role `finance`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.api.responses import answer_response
from pointsnet.auth.caller import Role
from pointsnet.auth.keys import KeyResolver
from pointsnet.model import Model
from pointsnet.partners.rate_limits import RateLimiter
from pointsnet.settlement.commands import (
    ApproveSettlement,
    DisputeSettlement,
    MarkSettlementPaid,
)
from pointsnet.settlement.models import (
    SETTLEMENT_ID_PATTERN,
    Settlement,
    SettlementListItem,
    SettlementStatus,
)
from pointsnet.settlement.report_view import SettlementReport
from pointsnet.settlement.reports import ReportDetail, ReportFormat
from pointsnet.settlement.service import Settlements

SettlementId = Annotated[
    str, Path(pattern=SETTLEMENT_ID_PATTERN, description="stl_<start>_<end>[_a<n>]")
]
TRANSITIONED: dict[int, OpenAPIResponse] = {
    201: OpenAPIResponse(
        description="The settlement after the step, its audit trail recording it",
        content={"application/json": {"model": Settlement}},
    ),
    **ERROR_RESPONSES,
}
REPORT_RESPONSES: dict[int, OpenAPIResponse] = {
    200: OpenAPIResponse(
        description=(
            "The report. CSV: one row per line, the rounding residual, then gross, bilateral, "
            "net_position, net_cash, remittance and remittance_total rows (column `row`); with "
            "detail=lines, one row per obligation and a line_total row per line. JSON: the "
            "settlement with names, currencies, each line's obligation and transaction ids, "
            "cash and remittances. HTML: the same for a person"
        ),
        content={
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"model": SettlementReport},
            "text/html": {"schema": {"type": "string"}},
        },
    ),
    **ERROR_RESPONSES,
}


class SettlementList(Model):
    items: list[SettlementListItem]


def create_finance_app(
    settlements: Callable[[], Settlements] | None = None,
    keys: Callable[[], KeyResolver] | None = None,
    rate_limiter: Callable[[], RateLimiter] | None = None,
) -> PointsNetResolver:
    from pointsnet.wiring import default_key_resolver, default_settlements

    app = PointsNetResolver(
        roles={Role.FINANCE}, keys=keys or default_key_resolver, rate_limiter=rate_limiter
    )
    service = settlements or default_settlements

    @app.get(
        "/v1/settlements",
        summary="Settlements, oldest period first",
        tags=["settlements"],
        responses=ERROR_RESPONSES,
    )
    def list_settlements(
        status: Annotated[SettlementStatus | None, Query()] = None,
        period_start: Annotated[
            date | None, Query(description="Only periods starting on or after this day")
        ] = None,
        period_end: Annotated[
            date | None, Query(description="Only periods ending on or before this day")
        ] = None,
    ) -> SettlementList:
        return SettlementList(items=service().summaries(status, period_start, period_end))

    @app.get(
        "/v1/settlements/<settlement_id>",
        summary="One settlement: lines, netting, net positions, checks and audit trail",
        tags=["settlements"],
        responses=ERROR_RESPONSES,
    )
    def get_settlement(settlement_id: SettlementId) -> Settlement:
        return service().get(settlement_id)

    @app.get(
        "/v1/settlements/<settlement_id>/report",
        summary="A settlement's report as CSV, JSON or HTML, or its line detail as CSV",
        description=(
            "format=csv&detail=lines answers the line detail: one row per obligation behind "
            "the lines (obligation and transaction id, kind, time, points, price, amount), "
            "then a line_total row per line; 409 conflict when the run recorded no detail."
        ),
        tags=["settlements"],
        responses=REPORT_RESPONSES,
    )
    def get_report(
        settlement_id: SettlementId,
        report_format: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.JSON,
        detail: Annotated[
            ReportDetail | None,
            Query(description="`lines`: the line detail CSV, one row per obligation (CSV only)"),
        ] = None,
    ) -> Response[str]:
        report = service().report(settlement_id, report_format, detail)
        disposition = "inline" if report_format == ReportFormat.HTML else "attachment"
        return Response(
            status_code=200,
            content_type=report.content_type,
            body=report.body,
            headers={"Content-Disposition": f'{disposition}; filename="{report.filename}"'},
        )

    @app.post(
        "/v1/settlements/<settlement_id>/approve",
        summary="Approve a draft or needs_review settlement; its figures never change again",
        tags=["settlements"],
        responses=TRANSITIONED,
    )
    def approve(
        settlement_id: SettlementId, command: Annotated[ApproveSettlement, Body()]
    ) -> Response[Settlement]:
        return answer_response(
            service().approve(app.caller, settlement_id, command, app.idempotent_request)
        )

    @app.post(
        "/v1/settlements/<settlement_id>/dispute",
        summary="Dispute a draft or needs_review settlement; a new run of its period redoes it",
        tags=["settlements"],
        responses=TRANSITIONED,
    )
    def dispute(
        settlement_id: SettlementId, command: Annotated[DisputeSettlement, Body()]
    ) -> Response[Settlement]:
        return answer_response(
            service().dispute(app.caller, settlement_id, command, app.idempotent_request)
        )

    @app.post(
        "/v1/settlements/<settlement_id>/mark-paid",
        summary="Record the payment of an approved settlement",
        tags=["settlements"],
        responses=TRANSITIONED,
    )
    def mark_paid(
        settlement_id: SettlementId, command: Annotated[MarkSettlementPaid, Body()]
    ) -> Response[Settlement]:
        return answer_response(
            service().mark_paid(app.caller, settlement_id, command, app.idempotent_request)
        )

    return app
