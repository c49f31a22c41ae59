"""Partner API routes: earn (and holds), burn, the member view, history, transactions,
reversals, captures and voids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.imports import imports_router
from pointsnet.api.network import add_network_routes
from pointsnet.api.openapi import serve_openapi
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.api.responses import created
from pointsnet.api.schemas import (
    ExpiringPointsResponse,
    HealthResponse,
    HistoryResponse,
    HoldDetail,
    MemberResponse,
    PostingResponse,
    TierProgress,
    TransactionDetail,
)
from pointsnet.api.webhooks import webhooks_router
from pointsnet.auth.caller import Role
from pointsnet.auth.keys import KeyResolver
from pointsnet.ledger.commands import (
    MEMBER_ID_PATTERN,
    BurnCommand,
    CaptureCommand,
    EarnCommand,
    ReverseCommand,
    VoidCommand,
)
from pointsnet.ledger.engine import PostingResult
from pointsnet.ledger.models import HoldState, Transaction
from pointsnet.network.cross_partner import CrossPartnerLedger, LinkedMemberView
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.network.rates import Rates
from pointsnet.partners.rate_limits import RateLimiter
from pointsnet.rules.referrals import ReferMember, Referral, Referrals

MemberId = Annotated[str, Path(pattern=MEMBER_ID_PATTERN, description="The partner's member id")]
TransactionId = Annotated[str, Path(pattern=r"^txn_[a-z2-7]{26}$")]


def create_partner_app(
    ledger: Callable[[], CrossPartnerLedger] | None = None,
    keys: Callable[[], KeyResolver] | None = None,
    links: Callable[[], Links] | None = None,
    rates: Callable[[], Rates] | None = None,
    exchanges: Callable[[], Exchanges] | None = None,
    rate_limiter: Callable[[], RateLimiter] | None = None,
    referrals: Callable[[], Referrals] | None = None,
) -> PointsNetResolver:
    from pointsnet import wiring

    points = ledger or wiring.default_cross_partner_ledger
    referring = referrals or wiring.default_referrals
    app = PointsNetResolver(
        roles={Role.PARTNER}, keys=keys or wiring.default_key_resolver, rate_limiter=rate_limiter
    )
    add_network_routes(
        app,
        links=links or wiring.default_links,
        rates=rates or wiring.default_rates,
        exchanges=exchanges or wiring.default_exchanges,
    )

    @app.get("/v1/health", summary="Liveness", tags=["meta"])
    def health() -> HealthResponse:
        return HealthResponse(status="ok")

    serve_openapi(app)
    app.include_router(imports_router())
    app.include_router(webhooks_router())

    @app.post(
        "/v1/members/<member_id>/earn",
        summary="Give a member points, or hold them as pending with `pending: true`",
        tags=["members"],
        responses={201: OpenAPIResponse(description="Posted"), **ERROR_RESPONSES},
    )
    def earn(
        member_id: MemberId, command: Annotated[EarnCommand, Body()]
    ) -> Response[PostingResponse]:
        return _posted(points().earn(app.caller, member_id, command, app.idempotent_request))

    @app.post(
        "/v1/members/<member_id>/burn",
        summary="Take points from a member",
        tags=["members"],
        responses={201: OpenAPIResponse(description="Posted"), **ERROR_RESPONSES},
    )
    def burn(
        member_id: MemberId, command: Annotated[BurnCommand, Body()]
    ) -> Response[PostingResponse]:
        return _posted(points().ledger.burn(app.caller, member_id, command, app.idempotent_request))

    @app.post(
        "/v1/members/<member_id>/referrals",
        summary="Record that a member referred another, new, member of the same partner",
        description="When the referred member's first earn posts, the program's `referral` "
        "rule credits both, once, each as its own transaction. A member is referred at most "
        "once, and only before its first earn (`409 conflict`).",
        tags=["members"],
        responses={201: OpenAPIResponse(description="The referral"), **ERROR_RESPONSES},
    )
    def refer(member_id: MemberId, command: Annotated[ReferMember, Body()]) -> Response[Referral]:
        result = referring().refer(app.caller, member_id, command, app.idempotent_request)
        return created(result.referral.model_dump(mode="json", exclude_none=True), result.replayed)

    @app.get(
        "/v1/members/<member_id>",
        summary="A member's balance",
        tags=["members"],
        responses=ERROR_RESPONSES,
    )
    def get_member(member_id: MemberId) -> MemberResponse:
        return _member_response(points().member(app.caller, member_id))

    @app.get(
        "/v1/members/<member_id>/transactions",
        summary="A member's transactions, newest first",
        tags=["members"],
        responses=ERROR_RESPONSES,
    )
    def list_transactions(
        member_id: MemberId,
        limit: Annotated[int, Query(ge=1, le=100)] = 25,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> HistoryResponse:
        page = points().ledger.views.history(app.caller, member_id, limit, cursor)
        return HistoryResponse(items=page.items, next_cursor=page.next_cursor)

    @app.get(
        "/v1/transactions/<transaction_id>",
        summary="One transaction",
        tags=["transactions"],
        responses=ERROR_RESPONSES,
    )
    def get_transaction(transaction_id: TransactionId) -> TransactionDetail:
        view = points().ledger.views.transaction(app.caller, transaction_id)
        return TransactionDetail(
            **view.transaction.model_dump(),
            points_reversed=view.points_reversed,
            hold=_hold_detail(view.hold) if view.hold else None,
        )

    @app.post(
        "/v1/transactions/<transaction_id>/reverse",
        summary="Reverse all or part of an earn or burn",
        tags=["transactions"],
        responses={201: OpenAPIResponse(description="The reversal"), **ERROR_RESPONSES},
    )
    def reverse(
        transaction_id: TransactionId, command: Annotated[ReverseCommand, Body()]
    ) -> Response[Transaction]:
        result = points().ledger.reverse(
            app.caller, transaction_id, command, app.idempotent_request
        )
        return created(
            result.transaction.model_dump(mode="json", exclude_none=True), result.replayed
        )

    @app.post(
        "/v1/transactions/<transaction_id>/capture",
        summary="Make a hold's points available: all, or part with the rest released",
        tags=["transactions"],
        responses={201: OpenAPIResponse(description="The capture"), **ERROR_RESPONSES},
    )
    def capture(
        transaction_id: TransactionId, command: Annotated[CaptureCommand, Body()]
    ) -> Response[PostingResponse]:
        return _posted(
            points().ledger.holds.capture(
                app.caller, transaction_id, command, app.idempotent_request
            )
        )

    @app.post(
        "/v1/transactions/<transaction_id>/void",
        summary="Release every point of a hold",
        tags=["transactions"],
        responses={201: OpenAPIResponse(description="The void"), **ERROR_RESPONSES},
    )
    def void(
        transaction_id: TransactionId, command: Annotated[VoidCommand, Body()]
    ) -> Response[PostingResponse]:
        return _posted(
            points().ledger.holds.void(app.caller, transaction_id, command, app.idempotent_request)
        )

    return app


def _member_response(linked: LinkedMemberView) -> MemberResponse:
    view = linked.member
    tier = view.tier
    return MemberResponse(
        member_id=view.member_id,
        program=view.program,
        balance=view.balance,
        tier=tier.tier if tier else None,
        tier_progress=TierProgress(
            points_earned=tier.points_earned,
            window_start=tier.window_start,
            next_tier=tier.next_tier,
            points_to_next_tier=tier.points_to_next_tier,
        )
        if tier
        else None,
        expiring=[
            ExpiringPointsResponse(points=point.points, expires_at=point.expires_at)
            for point in view.expiring
        ],
        links=list(linked.links),
    )


def _hold_detail(hold: HoldState) -> HoldDetail:
    return HoldDetail(
        status=hold.status,
        points_held=hold.points,
        void_after=hold.void_after,
        points_captured=hold.points_captured,
        resolved_by=hold.resolved_by,
        resolved_at=hold.resolved_at,
    )


def _posted(result: PostingResult) -> Response[PostingResponse]:
    body = PostingResponse(transaction=result.transaction, balance=result.balance)
    return created(body.model_dump(mode="json", exclude_none=True), result.replayed)
