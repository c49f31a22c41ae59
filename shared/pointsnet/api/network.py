"""Partner routes of the network: links, rates, quotes and exchanges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.api.responses import created, rate_response
from pointsnet.api.schemas import (
    ExchangeBalances,
    ExchangeResponse,
    LinkResponse,
    QuoteResponse,
    RateResponse,
)
from pointsnet.ledger.commands import ProgramCode
from pointsnet.network.commands import CreateQuote, ExecuteExchange, ProposeLink
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.network.models import Link
from pointsnet.network.rates import Rates

LinkId = Annotated[str, Path(pattern=r"^lnk_[a-z2-7]{26}$")]
CREATED: dict[int, OpenAPIResponse] = {
    201: OpenAPIResponse(description="Created"),
    **ERROR_RESPONSES,
}


def add_network_routes(
    app: PointsNetResolver,
    links: Callable[[], Links],
    rates: Callable[[], Rates],
    exchanges: Callable[[], Exchanges],
) -> None:
    @app.post("/v1/links", summary="Propose a link", tags=["links"], responses=CREATED)
    def propose_link(command: Annotated[ProposeLink, Body()]) -> Response[LinkResponse]:
        result = links().propose(app.caller, command, app.idempotent_request)
        return created(_link_body(result.link), result.replayed)

    @app.post(
        "/v1/links/<link_id>/confirm",
        summary="Confirm a link the other partner proposed",
        tags=["links"],
        responses=CREATED,
    )
    def confirm_link(link_id: LinkId) -> Response[LinkResponse]:
        result = links().confirm(app.caller, link_id, app.idempotent_request)
        return created(_link_body(result.link), result.replayed)

    @app.delete(
        "/v1/links/<link_id>", summary="Revoke a link", tags=["links"], responses=ERROR_RESPONSES
    )
    def revoke_link(link_id: LinkId) -> LinkResponse:
        return _link_response(links().revoke(app.caller, link_id))

    @app.get("/v1/links/<link_id>", summary="One link", tags=["links"], responses=ERROR_RESPONSES)
    def get_link(link_id: LinkId) -> LinkResponse:
        return _link_response(links().get(app.caller, link_id))

    @app.get("/v1/rates", summary="The rate in force", tags=["rates"], responses=ERROR_RESPONSES)
    def get_rate(
        from_program: Annotated[ProgramCode, Query(alias="from")],
        to_program: Annotated[ProgramCode, Query(alias="to")],
    ) -> RateResponse:
        return rate_response(rates().rate_in_force(from_program, to_program))

    @app.post(
        "/v1/quotes",
        summary="Lock a rate for an exchange",
        tags=["exchanges"],
        responses=CREATED,
    )
    def create_quote(command: Annotated[CreateQuote, Body()]) -> Response[QuoteResponse]:
        result = exchanges().quote(app.caller, command, app.idempotent_request)
        quote = result.quote
        body = QuoteResponse(
            quote_id=quote.quote_id,
            member_id=quote.member_id,
            from_program=quote.from_program,
            to_program=quote.to_program,
            rate=quote.rate,
            points_out=quote.points_out,
            points_in=quote.points_in,
            expires_at=quote.expires_at,
            created_at=quote.created_at,
        )
        return created(body.model_dump(mode="json"), result.replayed)

    @app.post(
        "/v1/exchanges",
        summary="Move a member's points between programs at a quote",
        tags=["exchanges"],
        responses=CREATED,
    )
    def execute_exchange(command: Annotated[ExecuteExchange, Body()]) -> Response[ExchangeResponse]:
        result = exchanges().execute(app.caller, command, app.idempotent_request)
        body = ExchangeResponse(
            exchange_id=result.exchange_id,
            quote_id=result.quote.quote_id,
            rate=result.quote.rate,
            points_out=result.quote.points_out,
            points_in=result.quote.points_in,
            created_at=result.debit.transaction.created_at,
            debit=result.debit.transaction,
            credit=result.credit.transaction,
            balances=ExchangeBalances(
                from_balance=result.debit.balance, to_balance=result.credit.balance
            ),
        )
        return created(body.model_dump(mode="json"), result.replayed)


def _link_response(link: Link) -> LinkResponse:
    return LinkResponse.model_validate(link.model_dump())


def _link_body(link: Link) -> dict[str, Any]:
    return _link_response(link).model_dump(mode="json")
