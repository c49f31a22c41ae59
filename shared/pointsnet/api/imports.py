"""Partner routes for joining with members: opening-balance imports and batch earns."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet.api.errors import ERROR_RESPONSES
from pointsnet.api.resolver import PointsNetRouter
from pointsnet.api.responses import created, json_response
from pointsnet.imports.models import CreateImport, ImportView
from pointsnet.network.earn_batches import EarnBatchCommand, EarnBatchResult

if TYPE_CHECKING:
    from pointsnet.imports.service import Imports
    from pointsnet.network.earn_batches import EarnBatches

ImportId = Annotated[str, Path(pattern=r"^imp_[a-z2-7]{26}$")]


def _default_imports() -> Imports:
    from pointsnet.wiring import default_imports

    return default_imports()


def _default_batches() -> EarnBatches:
    from pointsnet.wiring import default_earn_batches

    return default_earn_batches()


def imports_router(
    imports: Callable[[], Imports] = _default_imports,
    batches: Callable[[], EarnBatches] = _default_batches,
) -> PointsNetRouter:
    router = PointsNetRouter()

    @router.post(
        "/v1/earn-batches",
        summary="Up to 100 earns in one request, each answered on its own",
        description=(
            "Each earn is an earn's body with its member_id, and is posted exactly once by its "
            "own reference: one sent again in a later batch answers `replayed`. 201 whatever "
            "the earns' outcomes: each item is `posted`, `replayed` or `refused` with the error "
            "it would get alone. The batch's Idempotency-Key replays the whole first answer."
        ),
        tags=["members"],
        responses={
            201: OpenAPIResponse(
                description="Every earn's outcome, in order",
                content={"application/json": {"model": EarnBatchResult}},
            ),
            **ERROR_RESPONSES,
        },
    )
    def earn_batch(command: Annotated[EarnBatchCommand, Body()]) -> Response[Any]:
        result, replayed = batches().post(router.caller, command, router.idempotent_request)
        return created(result.model_dump(mode="json", exclude_none=True), replayed)

    @router.post(
        "/v1/imports",
        summary="Create an import of members' opening balances",
        description=(
            "Answers the import with an upload_url: PUT the CSV file there (docs/imports.md "
            "has its columns), then start the import."
        ),
        tags=["imports"],
        responses={
            201: OpenAPIResponse(
                description="The import, awaiting its file",
                content={"application/json": {"model": ImportView}},
            ),
            **ERROR_RESPONSES,
        },
    )
    def create_import(command: Annotated[CreateImport, Body()]) -> Response[Any]:
        view, replayed = imports().create(router.caller, command, router.idempotent_request)
        return created(view.model_dump(mode="json", exclude_none=True), replayed)

    @router.post(
        "/v1/imports/<import_id>/start",
        summary="Start posting an uploaded import's rows",
        description=(
            "202 with the import, running. An import already running or completed is answered "
            "as it is; a failed one runs again, posting only the rows not posted yet."
        ),
        tags=["imports"],
        responses={
            202: OpenAPIResponse(
                description="The import",
                content={"application/json": {"model": ImportView}},
            ),
            **ERROR_RESPONSES,
        },
    )
    def start_import(import_id: ImportId) -> Response[Any]:
        view = imports().start(router.caller, import_id)
        return json_response(202, view.model_dump(mode="json", exclude_none=True), False)

    @router.get(
        "/v1/imports/<import_id>",
        summary="An import: its progress, and once completed its refused rows' file",
        tags=["imports"],
        responses={200: {"description": "The import"}, **ERROR_RESPONSES},
    )
    def get_import(import_id: ImportId) -> ImportView:
        return imports().get(router.caller, import_id)

    return router
