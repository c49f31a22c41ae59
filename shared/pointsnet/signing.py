"""The request signing schemes of the public API (API.md, "Requests are signed").

Version 1 (`PN1-HMAC-SHA256`, header `v1=…`) signs six lines; version 2 (`PN2-HMAC-SHA256`,
`v2=…`) adds a seventh, the `Idempotency-Key` as sent, so a captured request cannot be sent
again under a fresh key. Pure standard library, shared by the server (to verify) and the
partner SDK (to sign), so both sides build the string to sign with the same code.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "PN1-HMAC-SHA256"
ALGORITHM_V2 = "PN2-HMAC-SHA256"
ALGORITHMS = {1: ALGORITHM, 2: ALGORITHM_V2}
SIGNATURE_VERSION_PREFIX = "v1="
LATEST_VERSION = 2
KEY_ID_HEADER = "X-PN-Key-Id"
TIMESTAMP_HEADER = "X-PN-Timestamp"
SIGNATURE_HEADER = "X-PN-Signature"
MAX_CLOCK_SKEW_SECONDS = 300


def _encode(value: str | bytes) -> str:
    # quote() always keeps A-Za-z0-9-._~ and uses upper-case hex: exactly RFC 3986 unreserved.
    return quote(value, safe="")


def _canonical(encoded_pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in sorted(encoded_pairs))


def canonical_query(query: str) -> str:
    """Canonical query from a raw query string as sent on the wire (without the leading `?`).

    Only `%XX` escapes are decoded (a raw `+` is a literal plus, per RFC 3986); each name and
    value is then re-encoded, so `%7E`, `~` and `%7e` all canonicalise to `~`.
    """
    pairs: list[tuple[str, str]] = []
    for segment in query.lstrip("?").split("&"):
        if not segment:
            continue
        name, _, value = segment.partition("=")
        # Decode to bytes, not str, so escapes of non-UTF-8 bytes survive unchanged.
        pairs.append((_encode(unquote_to_bytes(name)), _encode(unquote_to_bytes(value))))
    return _canonical(pairs)


def canonical_query_from_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    """Canonical query from already-decoded (name, value) pairs; repeated names are allowed."""
    return _canonical((_encode(name), _encode(value)) for name, value in pairs)


def body_digest(body: bytes) -> str:
    """Lowercase hex SHA-256 of the raw body bytes (of b"" when there is no body)."""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(
    timestamp: str,
    method: str,
    path: str,
    canonical_query: str,
    body: bytes,
    *,
    version: int = 1,
    idempotency_key: str | None = None,
) -> str:
    """The newline-joined lines that get signed; `path` has no query and no stage prefix.

    Version 1 has six lines. Version 2 names its scheme on the first line and adds a seventh:
    the `Idempotency-Key` header's value exactly as sent, the empty string when there is none.
    """
    lines = [_algorithm(version), timestamp, method.upper(), path, canonical_query]
    lines.append(body_digest(body))
    if version == 2:
        lines.append(idempotency_key or "")
    return "\n".join(lines)


def sign(secret: str, string_to_sign: str, version: int = 1) -> str:
    """The `X-PN-Signature` value: `v<version>=` and the hex HMAC-SHA256 keyed with the secret."""
    _algorithm(version)
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256)
    return f"v{version}={digest.hexdigest()}"


def signature_matches(secret: str, string_to_sign: str, presented: str, version: int = 1) -> bool:
    """Whether a presented `X-PN-Signature` is right, compared in constant time."""
    expected = sign(secret, string_to_sign, version)
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


def signature_version(presented: str) -> int | None:
    """The scheme a presented `X-PN-Signature` names (`v1=…` is 1, `v2=…` is 2), if any."""
    for version in ALGORITHMS:
        if presented.startswith(f"v{version}="):
            return version
    return None


def _algorithm(version: int) -> str:
    try:
        return ALGORITHMS[version]
    except KeyError:
        raise ValueError(
            f"no signature version {version}; there are {sorted(ALGORITHMS)}"
        ) from None


def timestamp_is_fresh(
    timestamp: str, now: float, max_skew_seconds: int = MAX_CLOCK_SKEW_SECONDS
) -> bool:
    """Whether `timestamp` is whole Unix seconds within `max_skew_seconds` of `now`, either way."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    return abs(int(timestamp) - now) <= max_skew_seconds


def sign_request(
    secret: str,
    key_id: str,
    method: str,
    path: str,
    query: str | Iterable[tuple[str, str]],
    body: bytes,
    timestamp: int | str,
    *,
    idempotency_key: str | None = None,
    version: int = 1,
) -> dict[str, str]:
    """The three signature headers for a request.

    `query` is either the raw query string as sent or decoded (name, value) pairs. Pass
    `version=2` and the request's `idempotency_key` (None when it sends none) to sign the key
    too, as the SDK does; the default stays version 1 for callers that add their
    `Idempotency-Key` header after signing.
    """
    canonical = (
        canonical_query(query) if isinstance(query, str) else canonical_query_from_pairs(query)
    )
    timestamp_value = str(timestamp)
    to_sign = string_to_sign(
        timestamp_value,
        method,
        path,
        canonical,
        body,
        version=version,
        idempotency_key=idempotency_key,
    )
    signature = sign(secret, to_sign, version)
    return {
        KEY_ID_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp_value,
        SIGNATURE_HEADER: signature,
    }


# Webhooks (API.md, "Partner statements and webhooks"): the network signs what it sends.
WEBHOOK_SIGNATURE_HEADER = "X-PN-Webhook-Signature"
WEBHOOK_EVENT_ID_HEADER = "X-PN-Event-Id"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """One `X-PN-Webhook-Signature` element: `v1=` and the hex HMAC-SHA256 of
    `<timestamp>.<raw body>` keyed with the webhook's secret."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256)
    return f"{SIGNATURE_VERSION_PREFIX}{digest.hexdigest()}"


def webhook_signature_matches(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether any `v1=` element of a comma-separated signature header is right (constant time).

    While a rotated secret's predecessor is still honoured, a delivery carries one element for
    each, so a receiver holding either secret verifies it."""
    expected = webhook_signature(secret, timestamp, body).encode("utf-8")
    return any(
        hmac.compare_digest(expected, element.strip().encode("utf-8"))
        for element in header.split(",")
    )
