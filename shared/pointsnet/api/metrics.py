"""The route of a program's metrics: `GET /v1/programs/{program}/metrics`, for the app that
serves programs (partner, finance and admin keys; the service decides what each may read)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.metrics.models import PeriodMetrics
from pointsnet.settlement.models import IsoDate

if TYPE_CHECKING:
    from pointsnet.metrics.service import ProgramMetrics

ProgramCode = Annotated[str, Path(pattern=r"^[A-Z]{2,8}$", description="A program code")]
DESCRIPTION = (
    "A program's figures over the UTC days period_start to period_end, both included: "
    "period_start is not after period_end, which is not after today (UTC), and the period is "
    "at most 92 days (else 422 validation_error). A partner key reads its own program only "
    "(another is 404 not_found); finance and admin keys read any. Figures are computed per "
    "day from the journal by the metrics function (daily, for the day before): "
    "`days_missing` lists the days not computed yet, `estimated` says whether a member count "
    "is a sketch's estimate, and `formulas` states every derived figure. Points are integers; "
    "money and ratios are decimal strings (docs/metrics.md)."
)


def add_metrics_routes(app: PointsNetResolver, metrics: Callable[[], ProgramMetrics]) -> None:
    """Register the metrics route on `app`; `metrics` builds the service on first use."""

    @app.get(
        "/v1/programs/<program>/metrics",
        summary="A program's metrics over a period: points, liability, members, purchases",
        description=DESCRIPTION,
        tags=["programs"],
        responses=ERROR_RESPONSES,
    )
    def get_program_metrics(
        program: ProgramCode,
        period_start: Annotated[IsoDate, Query(description="The period's first UTC day")],
        period_end: Annotated[
            IsoDate, Query(description="The period's last UTC day, not after today")
        ],
    ) -> PeriodMetrics:
        return metrics().period(app.caller, program, period_start, period_end)
