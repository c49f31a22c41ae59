"""Verify a request's signature and say who sent it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from pointsnet import signing
from pointsnet.auth.caller import Caller
from pointsnet.auth.keys import KeyResolver
from pointsnet.errors import InvalidSignature, MissingCredentials, StaleTimestamp, UnknownKey
from pointsnet.idempotency import IDEMPOTENCY_HEADER

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True)
class Verified:
    """Who signed a request, and with which scheme."""

    caller: Caller
    version: int
    # SHA-256 of the presented signature: what tells one v1 signature's uses apart, without
    # keeping the signature itself.
    signature_digest: str
    timestamp: int


def authenticate(request: SignedRequest, keys: KeyResolver, now: float) -> Caller:
    """The caller whose active key signed this request, or the contract's 401 error."""
    return verify(request, keys, now).caller


def verify(request: SignedRequest, keys: KeyResolver, now: float) -> Verified:
    """The caller, and the signature version it used, or the contract's 401 error.

    A v1 or v2 signature is accepted, except v1 from a partner made v2-only.
    """
    key_id = request.headers.get(signing.KEY_ID_HEADER.lower())
    timestamp = request.headers.get(signing.TIMESTAMP_HEADER.lower())
    signature = request.headers.get(signing.SIGNATURE_HEADER.lower())
    missing = [
        name
        for name, value in (
            (signing.KEY_ID_HEADER, key_id),
            (signing.TIMESTAMP_HEADER, timestamp),
            (signing.SIGNATURE_HEADER, signature),
        )
        if not value
    ]
    if missing or key_id is None or timestamp is None or signature is None:
        raise MissingCredentials(f"missing header(s): {', '.join(missing)}")
    if len(timestamp) > 12 or not signing.timestamp_is_fresh(timestamp, now):
        raise StaleTimestamp(
            f"{signing.TIMESTAMP_HEADER} must be whole Unix seconds within "
            f"{signing.MAX_CLOCK_SKEW_SECONDS} s of the server's clock"
        )
    active = keys.resolve(key_id) if _KEY_ID.fullmatch(key_id) else None
    if active is None:
        raise UnknownKey("no active key with this id")
    version = signing.signature_version(signature) or 1
    canonical_query = signing.canonical_query(request.raw_query)
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER.lower())
    for path in signed_path_spellings(request.path):
        string_to_sign = signing.string_to_sign(
            timestamp,
            request.method.upper(),
            path,
            canonical_query,
            request.body,
            version=version,
            idempotency_key=idempotency_key,
        )
        if signing.signature_matches(active.secret, string_to_sign, signature, version):
            break
    else:
        raise InvalidSignature("the signature does not match the request")
    if version < active.minimum_signature_version:
        raise InvalidSignature(
            f"this partner accepts only v{active.minimum_signature_version} signatures"
        )
    return Verified(
        caller=active.caller,
        version=version,
        signature_digest=hashlib.sha256(signature.encode("utf-8")).hexdigest(),
        timestamp=int(timestamp),
    )


def signed_path_spellings(path: str) -> list[str]:
    """The spellings of a decoded request path that its signer may have sent and signed.

    API Gateway's HTTP API decodes the path once before the function sees it, so the path "as
    sent" is gone when a client percent-encoded a character: `/v1/members/cx%3A1/earn` arrives
    as `/v1/members/cx:1/earn`. Besides the path as it arrives, the signer may have sent the
    SDK's spelling (`pointsnet.client`: `:` and `@` kept, dot segments as `%2E`) or every
    segment percent-encoded per RFC 3986 (upper-case hex, as in the canonical query). Each
    decodes to the same path, so a signature over one never authorises another resource.
    """
    spellings = [path]
    for safe in (":@", ""):
        spelled = "/".join(_spelled_segment(segment, safe) for segment in path.split("/"))
        if spelled not in spellings:
            spellings.append(spelled)
    return spellings


def _spelled_segment(segment: str, safe: str) -> str:
    if segment in (".", ".."):
        return segment.replace(".", "%2E")
    return quote(segment, safe=safe)
