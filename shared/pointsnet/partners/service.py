"""Onboarding: create partners, issue, list and revoke their keys.

The admin API's POSTs are idempotent like every POST: each writes a request record under the
operator's Idempotency-Key in the same transaction as what it creates, so a retry finds
either both or neither. A retry of a partner creation answers the first response again. A
retry of a key issuance never shows the secret again: if an earlier attempt created the
secret, the retry is refused with `conflict` (the secret is shown once, and it may have been
shown already); if the earlier attempt stopped before creating it, the retry creates it and
answers 201 as the first attempt would have.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pointsnet.auth.caller import Caller, KeyStatus, Role
from pointsnet.clock import rfc3339, utc_now
from pointsnet.errors import Conflict, IdempotencyKeyReused, NotFound
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.partners.commands import CreatePartnerCommand, IssueKeyCommand, SetSigningCommand
from pointsnet.partners.models import NETWORK_PARTNER_ID, ApiKey, IssuedKey, Partner, PartnerSigning
from pointsnet.partners.ports import (
    KeyVault,
    PartnerStore,
    RecordedRequest,
    RequestRecorded,
    SecretExists,
)
from pointsnet.partners.rate_limits import RateLimit


def new_key_id() -> str:
    return "pnk_" + secrets.token_hex(10)


def new_secret() -> str:
    return "pns_" + secrets.token_urlsafe(32)


def request_id_for(caller: Caller, request: IdempotentRequest) -> str:
    return derived_id("req_", caller.partner_id, request.key)


@dataclass(frozen=True)
class PartnerCreated:
    partner: Partner
    replayed: bool


class PartnerDirectory:
    def __init__(
        self,
        store: PartnerStore,
        key_secrets: KeyVault,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.key_secrets = key_secrets
        self.clock = clock

    # partners

    def create_partner(
        self,
        partner_id: str,
        name: str,
        program: str | None,
        point_value: Decimal | None,
        currency: str = "USD",
    ) -> Partner:
        """Create a partner outside the API (seeding, bootstrap); `conflict` if it exists."""
        partner = self._partner(partner_id, name, program, point_value, currency)
        self.store.create_partner(partner)
        return partner

    def register_partner(
        self, caller: Caller, command: CreatePartnerCommand, request: IdempotentRequest
    ) -> PartnerCreated:
        """Create a partner for an admin request; a retry answers the first response."""
        partner = self._partner(
            command.partner_id,
            command.name,
            command.program,
            Decimal(command.point_value),
            command.currency,
        )
        record = self._record(caller, request, partner.model_dump_json(exclude_none=True))
        try:
            self.store.create_partner(partner, record)
        except RequestRecorded as recorded:
            first = _same_request(recorded.existing, request)
            return PartnerCreated(Partner.model_validate_json(first.response), replayed=True)
        return PartnerCreated(partner, replayed=False)

    def list_partners(self) -> list[Partner]:
        return self.store.list_partners()

    def set_signing(self, partner_id: str, command: SetSigningCommand) -> Partner:
        """Set the lowest signature version the partner's keys may sign with.

        Functions cache a key with its partner record for `KeyCacheSeconds`, so the change
        takes effect everywhere within that bound.
        """
        return self.store.set_signing(
            partner_id, PartnerSigning(minimum_version=command.minimum_version)
        )

    def bootstrap_operator(self) -> IssuedKey:
        """The network operator's partner (made if missing) and a new admin key for it.

        The admin API needs an admin key, so the first one is issued here, with the
        deployer's AWS credentials rather than through the API.
        """
        if self.store.get_partner(NETWORK_PARTNER_ID) is None:
            # Conflict: another bootstrap made it meanwhile, which is the same partner.
            with suppress(Conflict):
                self.create_partner(NETWORK_PARTNER_ID, "PointsNet", None, None)
        return self.issue_key(NETWORK_PARTNER_ID, Role.ADMIN)

    # keys

    def issue_key(self, partner_id: str, role: Role = Role.PARTNER) -> IssuedKey:
        """Issue a key outside the API (seeding, bootstrap): always a new key."""
        key = self._new_key(partner_id, role)
        self.store.create_key(key)
        return self._with_secret(key)

    def issue_key_for_request(
        self,
        caller: Caller,
        partner_id: str,
        command: IssueKeyCommand,
        request: IdempotentRequest,
    ) -> IssuedKey:
        """Issue a key for an admin request; see the module docstring for retries."""
        key = self._new_key(partner_id, command.role)
        record = self._record(caller, request, key.model_dump_json(exclude_none=True))
        try:
            self.store.create_key(key, record)
        except RequestRecorded as recorded:
            first = ApiKey.model_validate_json(_same_request(recorded.existing, request).response)
            key = self._still_active(first)
        return self._with_secret(key)

    def list_keys(self, partner_id: str) -> list[ApiKey]:
        self._existing_partner(partner_id)
        return self.store.list_keys(partner_id)

    def revoke_key(self, partner_id: str, key_id: str) -> ApiKey:
        """Revoke a key of this partner; revoking it again answers the same revoked key."""
        return self.store.revoke_key(partner_id, key_id, rfc3339(self.clock()))

    # rate limits

    def set_rate_limit(self, partner_id: str, limit: RateLimit) -> Partner:
        """Set the request rate limit of all the partner's keys; every instance applies it at
        its next lease of the partner's tokens (within a second under load)."""
        return self.store.set_rate_limit(partner_id, RateLimit(rate=limit.rate, burst=limit.burst))

    # helpers

    def _partner(
        self,
        partner_id: str,
        name: str,
        program: str | None,
        point_value: Decimal | None,
        currency: str,
    ) -> Partner:
        return Partner(
            partner_id=partner_id,
            name=name,
            program=program,
            point_value=point_value,
            currency=currency,
            created_at=rfc3339(self.clock()),
        )

    def _existing_partner(self, partner_id: str) -> Partner:
        partner = self.store.get_partner(partner_id)
        if partner is None:
            raise NotFound(f"no partner {partner_id}")
        return partner

    def _new_key(self, partner_id: str, role: Role) -> ApiKey:
        self._existing_partner(partner_id)
        return ApiKey(
            key_id=new_key_id(), partner_id=partner_id, role=role, created_at=rfc3339(self.clock())
        )

    def _with_secret(self, key: ApiKey) -> IssuedKey:
        # The key is stored before its secret: without a secret it authenticates nothing, and
        # creating the secret is what decides which attempt may show it.
        secret = new_secret()
        try:
            self.key_secrets.create(
                key.key_id, secret, description=f"PointsNet {key.role} key of {key.partner_id}"
            )
        except SecretExists as exc:
            raise Conflict(
                f"key {key.key_id} was already issued for this Idempotency-Key and its secret "
                "is shown only once; revoke it and issue a new key if the secret was lost"
            ) from exc
        return IssuedKey(
            key_id=key.key_id,
            partner_id=key.partner_id,
            role=key.role,
            secret=secret,
            status=key.status,
            created_at=key.created_at,
        )

    def _still_active(self, first: ApiKey) -> ApiKey:
        current = self.store.get_key(first.key_id)
        if current is None or current.status != KeyStatus.ACTIVE:
            raise Conflict(f"key {first.key_id} of this Idempotency-Key has been revoked")
        return current

    def _record(self, caller: Caller, request: IdempotentRequest, response: str) -> RecordedRequest:
        return RecordedRequest(
            request_id=request_id_for(caller, request),
            fingerprint=request.fingerprint,
            response=response,
            created_at=rfc3339(self.clock()),
        )


def _same_request(existing: RecordedRequest, request: IdempotentRequest) -> RecordedRequest:
    if existing.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
    return existing
