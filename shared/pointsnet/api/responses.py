"""Response shapes more than one app's routes answer with.

Kept apart from the routes themselves, so that an app using one does not load another
app's routes (and their packages) at its cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from pointsnet.api.schemas import RateResponse
from pointsnet.idempotency import REPLAYED_HEADER

if TYPE_CHECKING:
    from pointsnet.network.models import Rate
    from pointsnet.settlement.service import Answer


def rate_response(rate: Rate) -> RateResponse:
    return RateResponse(
        from_program=rate.from_program,
        to_program=rate.to_program,
        rate=rate.rate,
        price=rate.price,
        effective_from=rate.effective_from,
    )


def json_response(status: int, body: Any, replayed: bool) -> Response[Any]:
    """A JSON answer; a replayed one says so in `Idempotent-Replayed`."""
    headers = {REPLAYED_HEADER: "true"} if replayed else {}
    return Response(status_code=status, content_type="application/json", body=body, headers=headers)


def created(body: dict[str, Any], replayed: bool) -> Response[Any]:
    return json_response(201, body, replayed)


def answer_response(answer: Answer) -> Response[Any]:
    return json_response(answer.status, answer.body, answer.replayed)
