"""The authenticated caller of a request."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    PARTNER = "partner"
    FINANCE = "finance"
    ADMIN = "admin"


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    key_id: str
    role: Role
    program: str | None = None
