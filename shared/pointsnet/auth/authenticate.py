"""Verify a request's signature and say who sent it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pointsnet import signing
from pointsnet.auth.caller import Caller
from pointsnet.auth.keys import KeyResolver
from pointsnet.errors import InvalidSignature, MissingCredentials, StaleTimestamp, UnknownKey

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


def authenticate(request: SignedRequest, keys: KeyResolver, now: float) -> Caller:
    """The caller whose active key signed this request, or the contract's 401 error."""
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
    string_to_sign = signing.string_to_sign(
        timestamp,
        request.method.upper(),
        request.path,
        signing.canonical_query(request.raw_query),
        request.body,
    )
    if not signing.signature_matches(active.secret, string_to_sign, signature):
        raise InvalidSignature("the signature does not match the request")
    return active.caller
