"""What an operator asks the partner directory to do: the validated bodies of admin requests."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, Strict, WithJsonSchema

from pointsnet.auth.caller import Role
from pointsnet.model import Model
from pointsnet.partners.models import PartnerId
from pointsnet.strict_json import COMMAND_CONFIG, NOT_A_NUMBER

# A decimal string above 0 (some digit is not 0): money is never a JSON number. The pattern
# alone says what is accepted, and it is what the OpenAPI document shows.
POINT_VALUE_PATTERN = r"^(?=.*[1-9])[0-9]{1,12}(\.[0-9]{1,12})?$"


def _positive_decimal(value: str) -> str:
    if not re.fullmatch(POINT_VALUE_PATTERN, value):
        raise ValueError('must be a decimal string above 0 such as "0.0025"')
    return value


DecimalString = Annotated[
    str,
    AfterValidator(_positive_decimal),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": POINT_VALUE_PATTERN,
            "description": 'A decimal string above 0 such as "0.0025"',
            "examples": ["0.0025"],
        }
    ),
]


class _Command(Model):
    model_config = COMMAND_CONFIG


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


class IssueKeyCommand(_Command):
    role: Annotated[Role, Strict(False), NOT_A_NUMBER] = Field(
        default=Role.PARTNER, description="What the key may call"
    )


class SetSigningCommand(_Command):
    minimum_version: int = Field(
        ge=1,
        le=2,
        strict=True,
        description="2 makes the partner v2-only: its v1 signatures are refused; 1 accepts both",
    )
