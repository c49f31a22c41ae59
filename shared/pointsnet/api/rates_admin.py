"""Admin routes for exchange rates: publish a rate, keeping earlier ones in history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetRouter
from pointsnet.api.responses import rate_response
from pointsnet.api.schemas import RateResponse
from pointsnet.network.commands import SetRate
from pointsnet.network.rates import Rates

Program = Annotated[str, Path(pattern=r"^[A-Z]{2,8}$")]


def rates_router(rates: Callable[[], Rates] | None = None) -> PointsNetRouter:
    from pointsnet.wiring import default_rates

    router = PointsNetRouter()
    rates_of = rates or default_rates

    @router.put(
        "/v1/rates/<from_program>/<to_program>",
        summary="Publish the rate from one program to another",
        tags=["rates"],
        responses=ERROR_RESPONSES,
    )
    def set_rate(
        from_program: Program, to_program: Program, command: Annotated[SetRate, Body()]
    ) -> RateResponse:
        return rate_response(rates_of().set_rate(router.caller, from_program, to_program, command))

    return router
