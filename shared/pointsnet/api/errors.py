"""The one mapping from domain error codes to HTTP statuses and the error envelope."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import Field

from pointsnet.errors import PointsNetError, RateLimited
from pointsnet.model import Model

STATUS_BY_CODE: dict[str, int] = {
    "invalid_json": 400,
    "missing_idempotency_key": 400,
    "missing_credentials": 401,
    "unknown_key": 401,
    "invalid_signature": 401,
    "stale_timestamp": 401,
    "forbidden": 403,
    "not_found": 404,
    "route_not_found": 404,
    "insufficient_points": 409,
    "request_in_progress": 409,
    "conflict": 409,
    "quote_expired": 410,
    "payload_too_large": 413,
    "validation_error": 422,
    "idempotency_key_reused": 422,
    "not_linked": 422,
    "rate_limited": 429,
    "internal_error": 500,
}

REQUEST_ID_HEADER = "X-Request-Id"
RETRY_AFTER_HEADER = "Retry-After"


class ErrorDetail(Model):
    field: str
    message: str


class ErrorBody(Model):
    code: str = Field(description="Stable, machine-readable error code")
    message: str
    request_id: str
    details: list[ErrorDetail] | None = None


class ErrorEnvelope(Model):
    error: ErrorBody


def status_of(error: PointsNetError) -> int:
    return STATUS_BY_CODE.get(error.code, 500)


def error_headers(error: PointsNetError, request_id: str) -> dict[str, str]:
    """The headers of an error response: its request id, and when to retry a 429."""
    headers = {REQUEST_ID_HEADER: request_id}
    if isinstance(error, RateLimited):
        headers[RETRY_AFTER_HEADER] = str(error.retry_after)
    return headers


def error_body(error: PointsNetError, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "request_id": request_id,
    }
    if error.details:
        body["details"] = error.details
    return {"error": body}


def error_result(error: PointsNetError, request_id: str) -> dict[str, Any]:
    """A Lambda proxy result for an error raised before routing."""
    return {
        "statusCode": status_of(error),
        "headers": {"Content-Type": "application/json"} | error_headers(error, request_id),
        "body": json.dumps(error_body(error, request_id), separators=(",", ":")),
        "isBase64Encoded": False,
    }


# Documented on every route of the OpenAPI document.
ERROR_RESPONSES: dict[int, OpenAPIResponse] = {
    status: OpenAPIResponse(
        description=description,
        content={"application/json": {"model": ErrorEnvelope}},
    )
    for status, description in (
        (400, "invalid_json or missing_idempotency_key"),
        (401, "missing_credentials, unknown_key, invalid_signature or stale_timestamp"),
        (403, "forbidden: the key's role may not call this"),
        (404, "not_found (an id in the path included, malformed or unknown) or route_not_found"),
        (409, "insufficient_points, request_in_progress or conflict"),
        (413, "payload_too_large: body over 16 KiB"),
        (422, "validation_error, idempotency_key_reused or not_linked"),
        (429, "rate_limited: the partner's request rate limit; see Retry-After"),
        (500, "internal_error"),
    )
}
ERROR_RESPONSES[429]["headers"] = {
    RETRY_AFTER_HEADER: {
        "description": "Seconds to wait before retrying: a whole number, at least 1",
        "schema": {"type": "integer", "minimum": 1},
    }
}
