"""What the SDK raises: the API's error answers, with their stable `code`, and lost connections.

`error_from` reads an error answer, the API's `{"error": {...}}` shape or a gateway's own.
"""

from __future__ import annotations

import http.client
from typing import Any

from pointsnet.client.responses import ApiResponse, retry_after


class PointsNetError(Exception):
    """An error answered by the API (or no answer at all), with the API's stable `code`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        details: Any = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message} (status {status}, request {request_id or '-'})")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details
        self.retry_after = retry_after  # seconds, from a 429's Retry-After header


class PointsNetConnectionError(PointsNetError):
    """The API could not be reached (or did not answer) after every retry."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "connection_error", message)


def error_from(response: ApiResponse) -> PointsNetError:
    body = response.body
    error = body.get("error") if isinstance(body, dict) else None
    header_request_id = response.headers.get("x-request-id") or response.headers.get(
        "x-amzn-requestid"
    )
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return PointsNetError(
            status=response.status,
            code=error["code"],
            message=str(error.get("message", "")),
            request_id=error.get("request_id") or header_request_id,
            details=error.get("details"),
            retry_after=retry_after(response),
        )
    # Not the API's error shape: e.g. a gateway or proxy answering before the API does.
    message = body.get("message") if isinstance(body, dict) else body
    return PointsNetError(
        status=response.status,
        code=f"http_{response.status}",
        message=str(message or http.client.responses.get(response.status, "error"))[:500],
        request_id=header_request_id,
    )


def json_object(response: ApiResponse) -> dict[str, Any]:
    """The answer's body when it is a JSON object; `invalid_response` when it is not."""
    if isinstance(response.body, dict):
        return response.body
    raise PointsNetError(
        status=response.status,
        code="invalid_response",
        message=f"expected a JSON object, got {type(response.body).__name__}",
        request_id=response.headers.get("x-request-id"),
    )
