"""Onboarding: create partners, issue and revoke their keys."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from pointsnet.auth.caller import Role
from pointsnet.errors import NotFound
from pointsnet.ledger.models import rfc3339, utc_now
from pointsnet.partners.models import ApiKey, IssuedKey, Partner
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.key_secrets import KeySecrets


def new_key_id() -> str:
    return "pnk_" + secrets.token_hex(10)


def new_secret() -> str:
    return "pns_" + secrets.token_urlsafe(32)


class PartnerDirectory:
    def __init__(
        self,
        store: DirectoryStore,
        key_secrets: KeySecrets,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.key_secrets = key_secrets
        self.clock = clock

    def create_partner(
        self,
        partner_id: str,
        name: str,
        program: str | None,
        point_value: Decimal | None,
        currency: str = "USD",
    ) -> Partner:
        partner = Partner(
            partner_id=partner_id,
            name=name,
            program=program,
            point_value=point_value,
            currency=currency,
            created_at=rfc3339(self.clock()),
        )
        self.store.create_partner(partner)
        return partner

    def issue_key(self, partner_id: str, role: Role = Role.PARTNER) -> IssuedKey:
        partner = self.store.get_partner(partner_id)
        if partner is None:
            raise NotFound(f"no partner {partner_id}")
        key_id, secret = new_key_id(), new_secret()
        # The secret first: a key record never points at a secret that does not exist.
        self.key_secrets.create(key_id, secret, description=f"PointsNet {role} key of {partner_id}")
        self.store.put_key(
            ApiKey(
                key_id=key_id, partner_id=partner_id, role=role, created_at=rfc3339(self.clock())
            )
        )
        return IssuedKey(key_id=key_id, partner_id=partner_id, role=role, secret=secret)

    def revoke_key(self, partner_id: str, key_id: str) -> ApiKey:
        return self.store.revoke_key(partner_id, key_id, rfc3339(self.clock()))
