"""Admin route group: start a reconciliation run on demand (the schedule's code path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetRouter
from pointsnet.api.responses import answer_response
from pointsnet.settlement.commands import StartSettlementRun
from pointsnet.settlement.models import Settlement

if TYPE_CHECKING:
    from pointsnet.settlement.service import SettlementRuns


def _default_runs() -> SettlementRuns:
    from pointsnet.wiring import default_settlement_runs

    return default_settlement_runs()


def settlement_runs_router(
    runs: Callable[[], SettlementRuns] = _default_runs,
) -> PointsNetRouter:
    router = PointsNetRouter()

    @router.post(
        "/v1/settlement-runs",
        summary="Reconcile and settle a period now",
        description=(
            "Runs the reconciliation the schedule runs, for the UTC days period_start to "
            "period_end. 201: the settlement it produced (or the period's latest, unchanged). "
            "A period too large for one request answers 202 with the run's progress "
            "(settlement_id, run_id, phase, pages, transactions, obligations, "
            "accounts_checked): the run kept it, and the same request again (same "
            "Idempotency-Key) carries on from there."
        ),
        tags=["admin"],
        responses={
            201: OpenAPIResponse(
                description="The settlement the run produced",
                content={"application/json": {"model": Settlement}},
            ),
            **ERROR_RESPONSES,
        },
    )
    def start_settlement_run(command: Annotated[StartSettlementRun, Body()]) -> Response[Any]:
        context = router.lambda_context
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        answer = runs().start(router.caller, command, router.idempotent_request, remaining)
        return answer_response(answer)

    return router
