"""Partners and API keys as stored and shown (a key's secret is in neither)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import ConfigDict, Field

from pointsnet.auth.caller import KeyStatus, Role
from pointsnet.model import Model
from pointsnet.partners.rate_limits import DEFAULT_RATE_LIMIT, RateLimit

PartnerId = Annotated[str, Field(pattern=r"^[a-z0-9-]{2,40}$")]
NETWORK_PARTNER_ID = "network"


class PartnerSigning(Model):
    model_config = ConfigDict(frozen=True, extra="ignore")

    minimum_version: int = Field(
        default=1,
        ge=1,
        le=2,
        description="The lowest signature version accepted from the partner's keys; "
        "2: v1 signatures are refused `401 invalid_signature`",
    )


class Partner(Model):
    model_config = ConfigDict(frozen=True, extra="ignore")

    partner_id: PartnerId
    name: str = Field(min_length=1, max_length=200)
    program: str | None = Field(default=None, pattern=r"^[A-Z]{2,8}$")
    point_value: Decimal | None = Field(
        default=None, gt=0, description="Worth of one point in the settlement currency"
    )
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    created_at: str
    rate_limit: RateLimit = Field(
        default=DEFAULT_RATE_LIMIT,
        description="The request rate limit of all the partner's keys: the defaults (README) "
        "unless an admin set one",
    )
    signing: PartnerSigning = Field(
        default_factory=PartnerSigning,
        description="What the partner's requests must be signed with",
    )


class ApiKey(Model):
    model_config = ConfigDict(frozen=True, extra="ignore")

    key_id: str
    partner_id: str
    role: Role
    status: KeyStatus = KeyStatus.ACTIVE
    created_at: str
    revoked_at: str | None = None


class IssuedKey(Model):
    """A new key with its secret: the only time the secret is ever returned."""

    key_id: str
    partner_id: str
    role: Role
    secret: str = Field(repr=False, description="Shown only in this response, once")
    status: KeyStatus = KeyStatus.ACTIVE
    created_at: str | None = None
