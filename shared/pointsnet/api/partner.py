"""Partner API routes: earn, burn, the member view, history, transactions and reversals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.network import add_network_routes
from pointsnet.api.openapi import serve_openapi
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.api.schemas import (
    HealthResponse,
    HistoryResponse,
    MemberResponse,
    PostingResponse,
    TransactionDetail,
)
from pointsnet.auth.caller import Role
from pointsnet.auth.keys import KeyResolver
from pointsnet.idempotency import REPLAYED_HEADER
from pointsnet.ledger.commands import (
    MEMBER_ID_PATTERN,
    BurnCommand,
    EarnCommand,
    ReverseCommand,
)
from pointsnet.ledger.models import Transaction
from pointsnet.ledger.service import Ledger, PostingResult, default_ledger
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.network.rates import Rates

MemberId = Annotated[str, Path(pattern=MEMBER_ID_PATTERN, description="The partner's member id")]
TransactionId = Annotated[str, Path(pattern=r"^txn_[a-z2-7]{26}$")]


def create_partner_app(
    ledger: Callable[[], Ledger] = default_ledger,
    keys: Callable[[], KeyResolver] | None = None,
    links: Callable[[], Links] | None = None,
    rates: Callable[[], Rates] | None = None,
    exchanges: Callable[[], Exchanges] | None = None,
) -> PointsNetResolver:
    from pointsnet.api import wiring

    app = PointsNetResolver(roles={Role.PARTNER}, keys=keys or wiring.default_key_resolver)
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

    @app.post(
        "/v1/members/<member_id>/earn",
        summary="Give a member points",
        tags=["members"],
        responses={201: OpenAPIResponse(description="Posted"), **ERROR_RESPONSES},
    )
    def earn(
        member_id: MemberId, command: Annotated[EarnCommand, Body()]
    ) -> Response[PostingResponse]:
        return _posted(ledger().earn(app.caller, member_id, command, app.idempotent_request))

    @app.post(
        "/v1/members/<member_id>/burn",
        summary="Take points from a member",
        tags=["members"],
        responses={201: OpenAPIResponse(description="Posted"), **ERROR_RESPONSES},
    )
    def burn(
        member_id: MemberId, command: Annotated[BurnCommand, Body()]
    ) -> Response[PostingResponse]:
        return _posted(ledger().burn(app.caller, member_id, command, app.idempotent_request))

    @app.get(
        "/v1/members/<member_id>",
        summary="A member's balance",
        tags=["members"],
        responses=ERROR_RESPONSES,
    )
    def get_member(member_id: MemberId) -> MemberResponse:
        view = ledger().member(app.caller, member_id)
        return MemberResponse(
            member_id=view.member_id,
            program=view.program,
            balance=view.balance,
            links=list(view.links),
        )

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
        page = ledger().history(app.caller, member_id, limit, cursor)
        return HistoryResponse(items=page.items, next_cursor=page.next_cursor)

    @app.get(
        "/v1/transactions/<transaction_id>",
        summary="One transaction",
        tags=["transactions"],
        responses=ERROR_RESPONSES,
    )
    def get_transaction(transaction_id: TransactionId) -> TransactionDetail:
        view = ledger().transaction(app.caller, transaction_id)
        return TransactionDetail(
            **view.transaction.model_dump(), points_reversed=view.points_reversed
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
        result = ledger().reverse(app.caller, transaction_id, command, app.idempotent_request)
        return _created(result.transaction.model_dump(mode="json", exclude_none=True), result)

    return app


def _posted(result: PostingResult) -> Response[PostingResponse]:
    body = PostingResponse(transaction=result.transaction, balance=result.balance)
    return _created(body.model_dump(mode="json", exclude_none=True), result)


def _created(body: dict[str, Any], result: PostingResult) -> Response[Any]:
    headers = {REPLAYED_HEADER: "true"} if result.replayed else {}
    return Response(status_code=201, content_type="application/json", body=body, headers=headers)
