"""What partners and operators ask of the network: the validated bodies of their requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from pointsnet.ledger.commands import MEMBER_ID_PATTERN, Points, ProgramCode

MemberId = Annotated[str, Field(pattern=MEMBER_ID_PATTERN)]


def _require_string(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "0.25"; a JSON number is not exact')
    return value


# A rate or price as a decimal string; a JSON float would not be exact.
DecimalString = Annotated[
    Decimal,
    BeforeValidator(_require_string),
    Field(gt=0, le=Decimal(1_000_000), max_digits=24, decimal_places=12),
]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProposeLink(_Command):
    member_id: MemberId = Field(description="The calling partner's own member")
    partner_program: ProgramCode = Field(description="The other partner's program")
    partner_member_id: MemberId = Field(description="Who the member is at the other partner")


class SetRate(_Command):
    rate: DecimalString = Field(description="Points of `to` per point of `from`")
    price: DecimalString | None = Field(
        default=None, description="Money per point of `from`, if not the point values"
    )
    effective_from: AwareDatetime | None = Field(
        default=None, description="When the rate takes effect; now by default"
    )


class CreateQuote(_Command):
    member_id: MemberId
    from_program: ProgramCode
    to_program: ProgramCode
    points: Points = Field(description="Points to take from `from_program`")


class ExecuteExchange(_Command):
    quote_id: Annotated[str, Field(pattern=r"^qte_[a-z2-7]{26}$")]
