"""The resolver every PointsNet function uses: the admission gate and one error mapping.

Powertools validates a body before any middleware runs, so the checks the
contract orders before validation (size, signature, role, Idempotency-Key,
JSON) run here, ahead of routing.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet import signing
from pointsnet.api.errors import error_body, error_headers, error_result, status_of
from pointsnet.auth.authenticate import SignedRequest, Verified, verify
from pointsnet.auth.caller import Caller, Role
from pointsnet.auth.keys import KeyResolver
from pointsnet.errors import (
    Forbidden,
    InvalidJson,
    MissingIdempotencyKey,
    NotFound,
    PayloadTooLarge,
    PointsNetError,
    RouteNotFound,
    ValidationFailed,
    with_article,
)
from pointsnet.idempotency import (
    IDEMPOTENCY_HEADER,
    IdempotentRequest,
    V1Signature,
    is_valid_key,
    request_fingerprint,
)
from pointsnet.observability import logger
from pointsnet.partners.rate_limits import RateLimiter

MAX_BODY_BYTES = 16 * 1024
MAX_JSON_DEPTH = 32
# How much of a malformed path id a not_found message repeats.
MAX_ID_ECHO = 80
PUBLIC_ROUTES = frozenset({("GET", "/v1/health"), ("GET", "/v1/openapi.json")})


class InternalError(PointsNetError):
    code = "internal_error"


class PointsNetResolver(APIGatewayHttpResolver):
    def __init__(
        self,
        *,
        roles: Collection[Role],
        keys: Callable[[], KeyResolver],
        clock: Callable[[], float] = time.time,
        rate_limiter: Callable[[], RateLimiter] | None = None,
    ) -> None:
        super().__init__(enable_validation=True)
        self.roles = frozenset(roles)
        self.keys = keys
        self.clock = clock
        if rate_limiter is None:
            from pointsnet.wiring import default_rate_limiter

            rate_limiter = default_rate_limiter
        self.rate_limiter = rate_limiter
        self.exception_handler(PointsNetError)(self._domain_error)
        self.exception_handler(RequestValidationError)(self._validation_error)
        self.not_found(self._route_not_found)
        self.exception_handler(Exception)(self._unexpected_error)

    # what routes read

    @property
    def caller(self) -> Caller:
        return _caller(self.context)

    @property
    def idempotent_request(self) -> IdempotentRequest:
        return _idempotent_request(self.context)

    # admission

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = _request_id(event)
        logger.append_keys(request_id=request_id)
        try:
            admitted = self._admit(dict(event))
        except PointsNetError as error:
            self.clear_context()
            logger.info("request refused", extra={"code": error.code})
            return error_result(error, request_id)
        except Exception:
            self.clear_context()
            logger.exception("admission failed")
            return error_result(InternalError("an internal error occurred"), request_id)
        return super().resolve(admitted, context)

    def _admit(self, event: dict[str, Any]) -> dict[str, Any]:
        method = event.get("requestContext", {}).get("http", {}).get("method", "GET").upper()
        path = event.get("rawPath") or event.get("requestContext", {}).get("http", {}).get(
            "path", "/"
        )
        body = _body_bytes(event)
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
        if (method, path) in PUBLIC_ROUTES:
            return event

        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        verified = verify(
            SignedRequest(
                method=method,
                path=path,
                raw_query=event.get("rawQueryString") or "",
                headers=headers,
                body=body,
            ),
            self.keys(),
            self.clock(),
        )
        caller = verified.caller
        logger.append_keys(partner_id=caller.partner_id, key_id=caller.key_id)
        # Every authenticated request counts against its partner (finance and admin keys:
        # partner `network`), before anything else is done for it.
        self.rate_limiter().admit(caller.partner_id)
        if self._has_route(method, path) and caller.role not in self.roles:
            raise Forbidden(f"{with_article(caller.role)} key may not call {method} {path}")
        self.append_context(caller=caller)

        if method not in ("POST", "PUT", "PATCH"):
            return event
        parsed = _json_object(body)
        if method == "POST":
            key = headers.get(IDEMPOTENCY_HEADER.lower())
            if not key:
                raise MissingIdempotencyKey(f"a POST needs an {IDEMPOTENCY_HEADER} header")
            if not is_valid_key(key):
                raise ValidationFailed(
                    f"{IDEMPOTENCY_HEADER} must be 1-255 printable ASCII characters",
                    details=[{"field": IDEMPOTENCY_HEADER, "message": "invalid"}],
                )
            self.append_context(
                idempotent_request=IdempotentRequest(
                    key=key,
                    fingerprint=request_fingerprint(method, path, parsed),
                    v1_signature=_v1_signature(verified),
                )
            )
        if not body.strip() or event.get("isBase64Encoded"):
            # Powertools reads the body as JSON text: give it the object we parsed.
            event["body"] = json.dumps(parsed)
            event["isBase64Encoded"] = False
        return event

    def _has_route(self, method: str, path: str) -> bool:
        return any(
            route.method == method and route.rule.match(path)
            for route in self._static_routes + self._dynamic_routes
        )

    # the one error mapping inside routing

    def _error_response(self, error: PointsNetError) -> Response[Any]:
        request_id = _request_id(self.current_event.raw_event)
        return Response(
            status_code=status_of(error),
            content_type="application/json",
            body=error_body(error, request_id),
            headers=error_headers(error, request_id),
        )

    def _domain_error(self, error: PointsNetError) -> Response[Any]:
        if status_of(error) >= 500:
            logger.exception("request failed", extra={"code": error.code})
        else:
            logger.info("request refused", extra={"code": error.code})
        return self._error_response(error)

    def _validation_error(self, error: RequestValidationError) -> Response[Any]:
        problems = error.errors()
        malformed = [
            problem for problem in problems if tuple(problem.get("loc", ()))[:1] == ("path",)
        ]
        if malformed:
            # An id that cannot exist names nothing: not found, as an unknown well-formed id is.
            name = str(tuple(malformed[0]["loc"])[-1])
            value = str(self.context.get("_route_args", {}).get(name, ""))
            logger.info("request refused", extra={"code": "not_found", "malformed": name})
            return self._error_response(NotFound(f"no {name} {value[:MAX_ID_ECHO]}"))
        try:
            body = self.current_event.json_body
        except (ValueError, TypeError):
            body = None
        details = [
            {
                "field": _field_path(problem.get("loc", ()), body),
                "message": str(problem.get("msg", "invalid")),
            }
            for problem in problems
        ]
        return self._error_response(ValidationFailed("the request is not valid", details=details))

    def _route_not_found(self, _: Exception) -> Response[Any]:
        event = self.current_event
        return self._error_response(RouteNotFound(f"no route {event.http_method} {event.path}"))

    def _unexpected_error(self, _: Exception) -> Response[Any]:
        logger.exception("unexpected error")
        return self._error_response(InternalError("an internal error occurred"))


def _field_path(loc: Sequence[Any], body: Any) -> str:
    """`body.rules.0.points`: pydantic puts a tagged union's tag in the path
    (`rules.0.comeback.points`); the partner sent no such key, so it is left out."""
    parts: list[str] = []
    value = body
    for index, part in enumerate(loc):
        if index == 0 and part == "body":
            parts.append("body")
            continue
        if isinstance(value, dict) and part not in value and value.get("type") == part:
            continue
        parts.append(str(part))
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            value = None
    return ".".join(parts)


class PointsNetRouter(Router):
    """A group of routes that a PointsNetResolver takes in with `include_router`.

    Its routes read the admitted caller and Idempotency-Key as the resolver's own do.
    """

    @property
    def caller(self) -> Caller:
        return _caller(self.context)

    @property
    def idempotent_request(self) -> IdempotentRequest:
        return _idempotent_request(self.context)


def _caller(context: Mapping[str, Any]) -> Caller:
    caller: Caller = context["caller"]
    return caller


def _idempotent_request(context: Mapping[str, Any]) -> IdempotentRequest:
    request: IdempotentRequest = context["idempotent_request"]
    return request


def _v1_signature(verified: Verified) -> V1Signature | None:
    """What a posting remembers of a v1 signature; v2 signs the key, so needs nothing."""
    if verified.version != 1:
        return None
    return V1Signature(
        digest=verified.signature_digest,
        valid_until=verified.timestamp + signing.MAX_CLOCK_SKEW_SECONDS,
    )


def _request_id(event: Mapping[str, Any]) -> str:
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else str(uuid.uuid4())


def _body_bytes(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidJson("the body is not valid base64") from exc
    return str(body).encode("utf-8", errors="surrogatepass")


def _json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidJson("the body is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise InvalidJson("the body must be a JSON object")
    if _depth(parsed) > MAX_JSON_DEPTH:
        # No request nests this deep; refusing it keeps later parsers far from recursion limits.
        raise InvalidJson(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        # An escaped lone surrogate ("\ud800") parses, but is text no store can encode.
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidJson("the body holds an unpaired surrogate escape") from exc
    return parsed


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value, without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        current, level = pending.pop()
        if isinstance(current, dict | list):
            deepest = max(deepest, level)
            children = current.values() if isinstance(current, dict) else current
            pending.extend((child, level + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
