"""Routes for a program's earning rules: set the whole set, show it, preview an earn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import Field

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetRouter
from pointsnet.clock import UtcTime
from pointsnet.ledger.models import RuleShare
from pointsnet.model import Model
from pointsnet.rules.models import EarningRule, RuleSet, StoredRuleSet
from pointsnet.rules.service import EarningRules, PreviewCommand
from pointsnet.wiring import default_earning_rules

ProgramPath = Annotated[str, Path(pattern=r"^[A-Z]{2,8}$", description="A program code")]


class RuleSetResponse(Model):
    program: str
    version: int = Field(description="+1 per change; 0: the program never had rules")
    rules: list[EarningRule]
    updated_at: UtcTime | None = None
    updated_by: str | None = None


class PreviewResponse(Model):
    points: int
    rules: list[RuleShare] = Field(description="Each rule's share of `points`")
    rules_version: int | None = Field(
        default=None, description="The version of the set that computed them"
    )


def earning_rules_router(
    rules: Callable[[], EarningRules] = default_earning_rules,
) -> PointsNetRouter:
    router = PointsNetRouter()

    @router.put(
        "/v1/programs/<program>/earning-rules",
        summary="Replace a program's earning rules, all at once",
        description="A partner for its own program, an admin for any. Applies to earns within "
        "PolicyCacheSeconds; each transaction records the version that priced it.",
        tags=["programs"],
        responses=ERROR_RESPONSES,
    )
    def set_rules(program: ProgramPath, rule_set: Annotated[RuleSet, Body()]) -> RuleSetResponse:
        return _response(rules().set_rules(router.caller, program, rule_set))

    @router.get(
        "/v1/programs/<program>/earning-rules",
        summary="A program's earning rules in force",
        tags=["programs"],
        responses=ERROR_RESPONSES,
    )
    def show_rules(program: ProgramPath) -> RuleSetResponse:
        return _response(rules().show_rules(router.caller, program))

    @router.post(
        "/v1/programs/<program>/earning-rules/preview",
        summary="What an earn would give a member now; posts nothing",
        tags=["programs"],
        responses=ERROR_RESPONSES,
    )
    def preview(
        program: ProgramPath, command: Annotated[PreviewCommand, Body()]
    ) -> PreviewResponse:
        priced = rules().preview(router.caller, program, command)
        return PreviewResponse(
            points=priced.points, rules=list(priced.rules or ()), rules_version=priced.rules_version
        )

    return router


def _response(stored: StoredRuleSet) -> RuleSetResponse:
    return RuleSetResponse(
        program=stored.program,
        version=stored.version,
        rules=list(stored.rules),
        updated_at=stored.updated_at,
        updated_by=stored.updated_by,
    )
