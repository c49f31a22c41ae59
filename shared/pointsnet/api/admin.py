"""Admin API routes: partners and their keys, for keys of role `admin`.

The admin function is one PointsNetResolver made of route groups (Powertools routers). Partners
and keys are the first group; another group (rates, settlement runs) is a `PointsNetRouter`
factory added to `ADMIN_ROUTERS`, and joins the function and the OpenAPI document unchanged.

Idempotency: `POST /v1/partners` replays its first response for a repeated Idempotency-Key.
`POST /v1/partners/{partner_id}/keys` never shows a secret twice: a repeated Idempotency-Key
whose key already has its secret answers `409 conflict` naming the key (revoke it and issue
another if the secret was lost); see `pointsnet.partners.service`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.policy_admin import policy_router
from pointsnet.api.rate_limits_admin import rate_limit_router
from pointsnet.api.rates_admin import rates_router
from pointsnet.api.resolver import PointsNetResolver, PointsNetRouter
from pointsnet.api.responses import created
from pointsnet.api.settlement_runs import settlement_runs_router
from pointsnet.auth.caller import Role
from pointsnet.auth.keys import KeyResolver
from pointsnet.model import Model
from pointsnet.partners.commands import CreatePartnerCommand, IssueKeyCommand, SetSigningCommand
from pointsnet.partners.models import ApiKey, IssuedKey, Partner
from pointsnet.partners.rate_limits import RateLimiter
from pointsnet.partners.service import PartnerDirectory
from pointsnet.wiring import default_partner_directory

PartnerIdPath = Annotated[str, Path(pattern=r"^[a-z0-9-]{2,40}$", description="The partner's id")]
KeyIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The key's id")]


class PartnerList(Model):
    items: list[Partner]


class KeyList(Model):
    items: list[ApiKey]


def partners_router(
    directory: Callable[[], PartnerDirectory] = default_partner_directory,
) -> PointsNetRouter:
    router = PointsNetRouter()

    @router.post(
        "/v1/partners",
        summary="Add a partner and its program",
        tags=["admin"],
        responses={201: OpenAPIResponse(description="The partner"), **ERROR_RESPONSES},
    )
    def create_partner(command: Annotated[CreatePartnerCommand, Body()]) -> Response[Partner]:
        result = directory().register_partner(router.caller, command, router.idempotent_request)
        return created(result.partner.model_dump(mode="json", exclude_none=True), result.replayed)

    @router.get("/v1/partners", summary="Every partner", tags=["admin"], responses=ERROR_RESPONSES)
    def list_partners() -> PartnerList:
        return PartnerList(items=directory().list_partners())

    @router.put(
        "/v1/partners/<partner_id>/signing",
        summary="Set the lowest signature version a partner's keys may sign with",
        description="`minimum_version` 2 makes the partner v2-only: its v1 signatures are "
        "refused `401 invalid_signature`. Every function sees the change within "
        "KeyCacheSeconds.",
        tags=["admin"],
        responses=ERROR_RESPONSES,
    )
    def set_signing(
        partner_id: PartnerIdPath, command: Annotated[SetSigningCommand, Body()]
    ) -> Partner:
        return directory().set_signing(partner_id, command)

    @router.post(
        "/v1/partners/<partner_id>/keys",
        summary="Issue an API key; its secret is in this response only",
        tags=["admin"],
        responses={
            201: OpenAPIResponse(description="The key with its secret"),
            **ERROR_RESPONSES,
        },
    )
    def issue_key(
        partner_id: PartnerIdPath, command: Annotated[IssueKeyCommand, Body()]
    ) -> Response[IssuedKey]:
        issued = directory().issue_key_for_request(
            router.caller, partner_id, command, router.idempotent_request
        )
        return created(issued.model_dump(mode="json", exclude_none=True), replayed=False)

    @router.get(
        "/v1/partners/<partner_id>/keys",
        summary="A partner's keys, without secrets",
        tags=["admin"],
        responses=ERROR_RESPONSES,
    )
    def list_keys(partner_id: PartnerIdPath) -> KeyList:
        return KeyList(items=directory().list_keys(partner_id))

    @router.delete(
        "/v1/partners/<partner_id>/keys/<key_id>",
        summary="Revoke a key; it is refused within KeyCacheSeconds",
        tags=["admin"],
        responses=ERROR_RESPONSES,
    )
    def revoke_key(partner_id: PartnerIdPath, key_id: KeyIdPath) -> ApiKey:
        return directory().revoke_key(partner_id, key_id)

    return router


# The admin function's other route groups, each a factory of a PointsNetRouter.
ADMIN_ROUTERS: tuple[Callable[[], Router], ...] = (
    rates_router,
    settlement_runs_router,
    policy_router,
    rate_limit_router,
)


def create_admin_app(
    directory: Callable[[], PartnerDirectory] = default_partner_directory,
    keys: Callable[[], KeyResolver] | None = None,
    routers: Iterable[Router] | None = None,
    rate_limiter: Callable[[], RateLimiter] | None = None,
) -> PointsNetResolver:
    """The admin function's app; `routers` replaces the groups of `ADMIN_ROUTERS`."""
    from pointsnet.wiring import default_key_resolver

    app = PointsNetResolver(
        roles={Role.ADMIN}, keys=keys or default_key_resolver, rate_limiter=rate_limiter
    )
    app.include_router(partners_router(directory))
    for router in routers if routers is not None else (factory() for factory in ADMIN_ROUTERS):
        app.include_router(router)
    return app
