"""Idempotency keys: what names a request, and how to tell a retry from a reuse.

A write's transaction id is derived from the calling partner and its key, so
the ledger's own conditional write is the idempotency record: there is no
separate record that a crash could leave out of step with the ledger.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from pydantic import ConfigDict, Field

from pointsnet.model import Model

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def is_valid_key(key: str) -> bool:
    return bool(_VALID_KEY.fullmatch(key))


def derived_id(prefix: str, partner_id: str, idempotency_key: str) -> str:
    """A stable id for the thing a partner's request creates: same partner and key, same id."""
    digest = hashlib.sha256(f"{partner_id}\n{idempotency_key}".encode()).digest()
    return prefix + base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def transaction_id_for(partner_id: str, idempotency_key: str) -> str:
    return derived_id("txn_", partner_id, idempotency_key)


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """Same method, path and JSON body (whatever its key order or spacing): same fingerprint."""
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class V1Signature(Model):
    """The v1 signature that authorised a POST: it must not authorise one under another key.

    Version 1 does not sign the Idempotency-Key, so the posting remembers the signature (by
    its digest, never the signature itself) until its timestamp leaves the server's window.
    """

    model_config = ConfigDict(frozen=True)

    digest: str = Field(description="SHA-256 of the X-PN-Signature value, hex")
    valid_until: int = Field(description="Unix seconds after which its timestamp is refused")


class IdempotentRequest(Model):
    """The partner's Idempotency-Key and the fingerprint of the request it names."""

    model_config = ConfigDict(frozen=True)

    key: str
    fingerprint: str
    v1_signature: V1Signature | None = None
