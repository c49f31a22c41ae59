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
from pointsnet.settlement.run_state import RunProgress, RunRecord

if TYPE_CHECKING:
    from pointsnet.settlement.on_demand import SettlementRuns


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
            "Runs the reconciliation the schedule runs (the same state machine), for the UTC "
            "days period_start to period_end. 201: the settlement it produced (or the "
            "period's latest, unchanged), when the run finishes within the request. 202: the "
            "run (run_id, settlement_id, status, items) when it does not; follow it with GET "
            "/v1/settlement-runs/{run_id}, or send the same request again (same "
            "Idempotency-Key), which answers 201 once the run has settled."
        ),
        tags=["admin"],
        responses={
            201: OpenAPIResponse(
                description="The settlement the run produced",
                content={"application/json": {"model": Settlement}},
            ),
            202: OpenAPIResponse(
                description="The run, still going",
                content={"application/json": {"model": RunProgress}},
            ),
            **ERROR_RESPONSES,
        },
    )
    def start_settlement_run(command: Annotated[StartSettlementRun, Body()]) -> Response[Any]:
        context = router.lambda_context
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        answer = runs().start(router.caller, command, router.idempotent_request, remaining)
        return answer_response(answer)

    @router.get(
        "/v1/settlement-runs/<run_id>",
        summary="A settlement run",
        description=(
            "Where a run stands: running, succeeded (settled names the settlement or "
            "adjustment it wrote or found) or failed. Runs are kept 31 days."
        ),
        tags=["admin"],
        responses={200: {"description": "The run"}, **ERROR_RESPONSES},
    )
    def get_settlement_run(run_id: str) -> RunRecord:
        return runs().get(run_id)

    return router
