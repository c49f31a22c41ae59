"""Admin route for a partner's request rate limit, shared by all its keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetRouter
from pointsnet.partners.models import Partner
from pointsnet.partners.rate_limits import RateLimitCommand
from pointsnet.partners.service import PartnerDirectory
from pointsnet.wiring import default_partner_directory

PartnerIdPath = Annotated[str, Path(pattern=r"^[a-z0-9-]{2,40}$", description="The partner's id")]


def rate_limit_router(
    directory: Callable[[], PartnerDirectory] = default_partner_directory,
) -> PointsNetRouter:
    router = PointsNetRouter()

    @router.put(
        "/v1/partners/<partner_id>/rate-limit",
        summary="Set a partner's request rate limit: `rate` per second, bursts up to `burst`",
        description="Shared by all the partner's keys (partner `network`: the finance and "
        "admin keys) across every function; applies within a second. A request over it is "
        "refused `429 rate_limited` with `Retry-After`.",
        tags=["admin"],
        responses=ERROR_RESPONSES,
    )
    def set_rate_limit(
        partner_id: PartnerIdPath, limit: Annotated[RateLimitCommand, Body()]
    ) -> Partner:
        return directory().set_rate_limit(partner_id, limit)

    return router
