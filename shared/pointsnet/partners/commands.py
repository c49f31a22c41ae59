"""What an operator asks the partner directory to do: the validated bodies of admin requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pointsnet.auth.caller import Role
from pointsnet.partners.models import PartnerId

# A positive decimal string: money is never a JSON number.
DecimalString = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,12})?$",
        description='A decimal string such as "0.0025"',
        examples=["0.0025"],
    ),
]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CreatePartnerCommand(_Command):
    partner_id: PartnerId = Field(description="The partner's id, [a-z0-9-]{2,40}")
    name: str = Field(min_length=1, max_length=200, description="Display name")
    program: str = Field(pattern=r"^[A-Z]{2,8}$", description="The partner's program code")
    point_value: DecimalString = Field(
        description='Worth of one point in the settlement currency, e.g. "0.0025"'
    )
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 settlement currency"
    )

    @field_validator("point_value")
    @classmethod
    def _positive(cls, value: str) -> str:
        if Decimal(value) <= 0:
            raise ValueError("must be greater than 0")
        return value


class IssueKeyCommand(_Command):
    role: Role = Field(default=Role.PARTNER, description="What the key may call")
