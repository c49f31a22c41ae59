"""Admin routes for program policies: expiry, tiers and the hold timeout of each partner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import Field

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetRouter
from pointsnet.clock import UtcTime
from pointsnet.programs.policy import ProgramPolicy, StoredPolicy
from pointsnet.programs.service import ProgramPolicies
from pointsnet.wiring import default_program_policies

PartnerIdPath = Annotated[str, Path(pattern=r"^[a-z0-9-]{2,40}$", description="The partner's id")]


class PolicyResponse(ProgramPolicy):
    partner_id: str
    updated_at: UtcTime | None = Field(default=None, description="Absent: the default policy")
    updated_by: str | None = None


def policy_router(
    policies: Callable[[], ProgramPolicies] = default_program_policies,
) -> PointsNetRouter:
    router = PointsNetRouter()

    @router.put(
        "/v1/partners/<partner_id>/policy",
        summary="Set a program's policy: expiry, tiers and hold timeout",
        description="Applies to postings within PolicyCacheSeconds; lots already earned keep "
        "their expiry.",
        tags=["admin"],
        responses=ERROR_RESPONSES,
    )
    def set_policy(
        partner_id: PartnerIdPath, policy: Annotated[ProgramPolicy, Body()]
    ) -> PolicyResponse:
        return _response(policies().set_policy(router.caller, partner_id, policy))

    @router.get(
        "/v1/partners/<partner_id>/policy",
        summary="A program's policy",
        tags=["admin"],
        responses=ERROR_RESPONSES,
    )
    def show_policy(partner_id: PartnerIdPath) -> PolicyResponse:
        return _response(policies().show_policy(partner_id))

    return router


def _response(stored: StoredPolicy) -> PolicyResponse:
    return PolicyResponse(
        partner_id=stored.partner_id,
        updated_at=stored.updated_at,
        updated_by=stored.updated_by,
        **stored.policy.model_dump(),
    )
