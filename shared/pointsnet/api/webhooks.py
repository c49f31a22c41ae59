"""Partner routes beyond polling: the partner's webhook and its settlement statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import ValidationError

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetRouter
from pointsnet.errors import ValidationFailed
from pointsnet.model import Model
from pointsnet.settlement.models import IsoDate, Period
from pointsnet.settlement.statements import Statement
from pointsnet.webhooks.models import WebhookDeleted, WebhookSettings, WebhookView

if TYPE_CHECKING:
    from pointsnet.settlement.statements import Statements
    from pointsnet.webhooks.service import Webhooks


class StatementList(Model):
    items: list[Statement]


def _default_webhooks() -> Webhooks:
    from pointsnet.wiring import default_webhooks

    return default_webhooks()


def _default_statements() -> Statements:
    from pointsnet.wiring import default_statements

    return default_statements()


def webhooks_router(
    webhooks: Callable[[], Webhooks] = _default_webhooks,
    statements: Callable[[], Statements] = _default_statements,
) -> PointsNetRouter:
    router = PointsNetRouter()

    @router.put(
        "/v1/webhooks",
        summary="Set the caller's webhook: where to deliver which events",
        description=(
            "One webhook per partner; a PUT again changes it. The `secret` is in the answer "
            "only when the webhook is created or `rotate_secret` is true: keep it to verify "
            "`X-PN-Webhook-Signature` (docs/webhooks.md)."
        ),
        tags=["webhooks"],
        responses={
            200: OpenAPIResponse(
                description="The webhook",
                content={"application/json": {"model": WebhookView}},
            ),
            **ERROR_RESPONSES,
        },
    )
    def put_webhook(settings: Annotated[WebhookSettings, Body()]) -> dict[str, Any]:
        return _shown(webhooks().configure(router.caller, settings))

    @router.get(
        "/v1/webhooks",
        summary="The caller's webhook, without its secret, with its latest deliveries",
        tags=["webhooks"],
        responses={
            200: OpenAPIResponse(
                description="The webhook",
                content={"application/json": {"model": WebhookView}},
            ),
            **ERROR_RESPONSES,
        },
    )
    def get_webhook() -> dict[str, Any]:
        return _shown(webhooks().show(router.caller))

    @router.delete(
        "/v1/webhooks",
        summary="Remove the caller's webhook and its secret",
        tags=["webhooks"],
        responses=ERROR_RESPONSES,
    )
    def delete_webhook() -> WebhookDeleted:
        return webhooks().remove(router.caller)

    @router.get(
        "/v1/statements",
        summary="The caller's side of each settlement of a period",
        description=(
            "Each settlement the caller is on, starting on or after `period_start` and ending "
            "on or before `period_end`: only its own lines, its net position and status, and "
            "the other partners' names."
        ),
        tags=["settlements"],
        responses=ERROR_RESPONSES,
    )
    def list_statements(
        period_start: Annotated[IsoDate, Query(description="The period's first UTC day")],
        period_end: Annotated[IsoDate, Query(description="The period's last UTC day")],
    ) -> StatementList:
        try:
            period = Period(period_start=period_start, period_end=period_end)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValidationFailed(
                message, details=[{"field": "period_end", "message": message}]
            ) from None
        return StatementList(items=statements().for_partner(router.caller, period))

    return router


def _shown(view: WebhookView) -> dict[str, Any]:
    # A secret is in the answer only when there is one to show.
    return view.model_dump(mode="json", exclude_none=True)
