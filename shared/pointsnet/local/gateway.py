"""API Gateway's part, locally: an HTTP API request becomes a function's event and its answer.

`dispatch` builds the payload 2.0 event, finds the route as API Gateway would, invokes the
route's function and shapes its result into the HTTP response API Gateway would send. Every
refusal (no route, no free environment, a failed function) carries the API's error envelope.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pointsnet.errors import PointsNetError, RateLimited, RouteNotFound
from pointsnet.local.events import http_api_event
from pointsnet.local.template import HttpRoute, find_route
from pointsnet.local.workers import FunctionInvoker, InvocationFailed, NoCapacity

logger = logging.getLogger("pointsnet.local")

# API Gateway's longest integration timeout: also how long a request waits for a free worker.
INTEGRATION_TIMEOUT_SECONDS = 30.0
HOP_BY_HOP_HEADERS = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = False


def error_response(
    error: PointsNetError, request_id: str | None = None, *, close: bool = False
) -> HttpResponse:
    """A response with the API's error envelope, from the same mapping the functions use."""
    from pointsnet.api.errors import error_result

    request_id = request_id or str(uuid.uuid4())
    return proxy_result_to_http(error_result(error, request_id), request_id, close=close)


def proxy_result_to_http(result: Any, request_id: str, *, close: bool = False) -> HttpResponse:
    """What API Gateway answers for a function's payload 2.0 result."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 treats any other JSON value as the body of a 200.
        text = result if isinstance(result, str) else json.dumps(result)
        headers = [("Content-Type", "application/json"), ("Apigw-Requestid", request_id)]
        return HttpResponse(200, headers, text.encode())
    headers = [
        (str(name), str(value))
        for name, value in (result.get("headers") or {}).items()
        if str(name).lower() not in HOP_BY_HOP_HEADERS
    ]
    single_names = {name.lower() for name, _ in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if str(name).lower() in HOP_BY_HOP_HEADERS or str(name).lower() in single_names:
            continue
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    if "apigw-requestid" not in {name.lower() for name, _ in headers}:
        headers.append(("Apigw-Requestid", request_id))
    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw_body)
    elif isinstance(raw_body, str):
        body = raw_body.encode("utf-8")
    else:
        body = json.dumps(raw_body).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, body, close=close)


def dispatch(
    routes: list[HttpRoute],
    invokers: Mapping[str, FunctionInvoker],
    method: str,
    raw_path: str,
    *,
    raw_query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    source_ip: str = "127.0.0.1",
) -> HttpResponse:
    """Route one request, invoke its function and shape the answer as API Gateway does."""
    found = find_route(routes, method, raw_path)
    route, parameters = found if found else (None, {})
    event = http_api_event(
        method,
        raw_path,
        raw_query=raw_query,
        headers=headers,
        body=body,
        route=route,
        path_parameters=dict(parameters),  # from the path the HTTP front decoded once
        source_ip=source_ip,
    )
    request_id: str = event["requestContext"]["requestId"]
    if route is None:
        return error_response(RouteNotFound(f"no route {method} {raw_path}"), request_id)
    invoker = invokers.get(route.function)
    if invoker is None:
        return error_response(PointsNetError("the local API is not running"), request_id)
    try:
        result = invoker.invoke(event, INTEGRATION_TIMEOUT_SECONDS)
    except NoCapacity:
        logger.warning("%s: every worker stayed busy; answered 429", route.function)
        return error_response(RateLimited("every execution environment is busy; retry"), request_id)
    except InvocationFailed as exc:
        logger.error("%s %s failed: %s", method, raw_path, exc)
        return error_response(PointsNetError("an internal error occurred"), request_id)
    try:
        return proxy_result_to_http(result, request_id)
    except (TypeError, ValueError, KeyError) as exc:
        logger.error("%s returned a malformed response: %s", route.function, exc)
        return error_response(PointsNetError("an internal error occurred"), request_id)
