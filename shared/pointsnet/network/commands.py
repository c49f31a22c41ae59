"""What partners and operators ask of the network: the validated bodies of their requests."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field, Strict, WithJsonSchema

from pointsnet.ledger.commands import MEMBER_ID_PATTERN, Points, ProgramCode
from pointsnet.model import Model
from pointsnet.strict_json import COMMAND_CONFIG, NOT_A_NUMBER

MemberId = Annotated[str, Field(pattern=MEMBER_ID_PATTERN)]


# A rate or price: above 0, at most 1,000,000, at most 12 decimal places. The pattern alone
# says so, and it is what the OpenAPI document shows, so the two cannot disagree.
DECIMAL_STRING_PATTERN = r"^(?=.*[1-9])(?:[0-9]{1,6}(?:\.[0-9]{1,12})?|1000000(?:\.0{1,12})?)$"


def _require_string(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "0.25"; a JSON number is not exact')
    if not re.fullmatch(DECIMAL_STRING_PATTERN, value):
        raise ValueError(
            "must be a decimal above 0 and at most 1000000, with at most 12 decimal places"
        )
    return value


# A rate or price as a decimal string; a JSON float would not be exact.
DecimalString = Annotated[
    Decimal,
    Strict(False),  # parsed from its string; _require_string refuses anything else
    BeforeValidator(_require_string),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_STRING_PATTERN, "examples": ["0.25"]}),
]


class _Command(Model):
    model_config = COMMAND_CONFIG


class ProposeLink(_Command):
    """A link from the caller's member to a member of another program than the caller's own."""

    member_id: MemberId = Field(description="The calling partner's own member")
    partner_program: ProgramCode = Field(description="The other partner's program")
    partner_member_id: MemberId = Field(description="Who the member is at the other partner")


class SetRate(_Command):
    """The rate between two different programs of the network (`from_program` is not
    `to_program`); an unknown program is 404 not_found."""

    rate: DecimalString = Field(description="Points of `to` per point of `from`")
    price: DecimalString | None = Field(
        default=None, description="Money per point of `from`, if not the point values"
    )
    effective_from: Annotated[AwareDatetime, Strict(False), NOT_A_NUMBER] | None = Field(
        default=None, description="When the rate takes effect; now by default"
    )


class CreateQuote(_Command):
    """A quote between two different programs (`from_program` is not `to_program`)."""

    member_id: MemberId
    from_program: ProgramCode
    to_program: ProgramCode
    points: Points = Field(description="Points to take from `from_program`")


class ExecuteExchange(_Command):
    quote_id: Annotated[str, Field(pattern=r"^qte_[a-z2-7]{26}$")]
