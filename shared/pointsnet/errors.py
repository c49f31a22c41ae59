"""Domain errors. Each carries a stable `code` from the public contract.

The HTTP status for each code lives in `pointsnet.api.errors`, the one place
that turns domain errors into responses.
"""

from __future__ import annotations

from typing import Any


class PointsNetError(Exception):
    code = "internal_error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidJson(PointsNetError):
    code = "invalid_json"


class MissingIdempotencyKey(PointsNetError):
    code = "missing_idempotency_key"


class MissingCredentials(PointsNetError):
    code = "missing_credentials"


class UnknownKey(PointsNetError):
    code = "unknown_key"


class InvalidSignature(PointsNetError):
    code = "invalid_signature"


class StaleTimestamp(PointsNetError):
    code = "stale_timestamp"


class Forbidden(PointsNetError):
    code = "forbidden"


class NotFound(PointsNetError):
    code = "not_found"


class RouteNotFound(PointsNetError):
    code = "route_not_found"


class InsufficientPoints(PointsNetError):
    code = "insufficient_points"


class RequestInProgress(PointsNetError):
    code = "request_in_progress"


class Conflict(PointsNetError):
    code = "conflict"


class QuoteExpired(PointsNetError):
    code = "quote_expired"


class PayloadTooLarge(PointsNetError):
    code = "payload_too_large"


class ValidationFailed(PointsNetError):
    code = "validation_error"


class MalformedRequest(ValidationFailed):
    """An HTTP request that cannot be parsed: its request line, headers or body framing.

    The contract has no code of its own for it (its 400 codes are about the JSON body and the
    Idempotency-Key), so it is the closest one: a part of the request is out of range.
    """


class IdempotencyKeyReused(PointsNetError):
    code = "idempotency_key_reused"


class NotLinked(PointsNetError):
    code = "not_linked"


class RateLimited(PointsNetError):
    """Too many requests: the answer carries `Retry-After` (whole seconds, at least 1)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class StoreUnavailable(PointsNetError):
    """The data store failed in a way a retry may fix; never a client's fault."""

    code = "internal_error"


def with_article(word: str) -> str:
    """`an admin`, `a partner`: a word a message names (a role, a type) after its article."""
    article = "an" if word[:1].lower() in tuple("aeiou") else "a"
    return f"{article} {word}"
