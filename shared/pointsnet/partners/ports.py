"""What the partner directory reads and writes: partners, keys, their secrets, and the
records that make an admin POST happen once.

`pointsnet.store.directory_store.DirectoryStore` implements `PartnerStore`, and
`pointsnet.store.key_secrets.KeySecrets` implements `KeyVault`.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import ConfigDict

from pointsnet.model import Model
from pointsnet.partners.models import ApiKey, Partner, PartnerSigning
from pointsnet.partners.rate_limits import RateLimit


class RecordedRequest(Model):
    """The first answer to an admin POST, kept under the caller's Idempotency-Key."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str
    fingerprint: str
    response: str  # the JSON body first answered (never a secret)
    created_at: str


class RequestRecorded(Exception):
    """The request's idempotency record already exists: this is a retry or a reuse."""

    def __init__(self, existing: RecordedRequest) -> None:
        super().__init__(f"request {existing.request_id} is already recorded")
        self.existing = existing


class SecretExists(Exception):
    """A secret for this key id was already created: it must not be created or shown again."""


class PartnerStore(Protocol):
    def create_partner(self, partner: Partner, request: RecordedRequest | None = None) -> None:
        """The partner and its program code together; RequestRecorded on a retry."""
        ...

    def get_partner(self, partner_id: str) -> Partner | None: ...

    def set_signing(self, partner_id: str, signing: PartnerSigning) -> Partner: ...

    def list_partners(self) -> list[Partner]: ...

    def create_key(self, key: ApiKey, request: RecordedRequest | None = None) -> None: ...

    def list_keys(self, partner_id: str) -> list[ApiKey]: ...

    def set_rate_limit(self, partner_id: str, limit: RateLimit) -> Partner: ...

    def get_request(self, request_id: str) -> RecordedRequest | None: ...

    def get_key(self, key_id: str) -> ApiKey | None: ...

    def revoke_key(self, partner_id: str, key_id: str, revoked_at: str) -> ApiKey: ...


class KeyVault(Protocol):
    def create(self, key_id: str, secret: str, description: str) -> None:
        """Store a new key's secret; SecretExists when one was already stored."""
        ...

    def get(self, key_id: str) -> str | None: ...
