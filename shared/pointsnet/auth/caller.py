"""Who calls: the authenticated caller of a request, its role, and its key's status."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict

from pointsnet.model import Model


class Role(StrEnum):
    PARTNER = "partner"
    FINANCE = "finance"
    ADMIN = "admin"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Caller(Model):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    key_id: str
    role: Role
    program: str | None = None
