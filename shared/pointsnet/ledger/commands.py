"""What a partner asks the ledger to do: the validated bodies of its requests."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    Strict,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from pointsnet.model import Model
from pointsnet.strict_json import COMMAND_CONFIG

MAX_POINTS = 1_000_000_000

Points = Annotated[int, Field(strict=True, ge=1, le=MAX_POINTS, description="Whole points")]
Reference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="The partner's own order or receipt id",
    ),
]
ProgramCode = Annotated[str, Field(pattern=r"^[A-Z]{2,8}$", description="A program code")]
MEMBER_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"
Description = Annotated[str, Field(max_length=256)]


# A spend: at most 12 digits before the point and 4 after, never a JSON number (not exact).
SPEND_PATTERN = r"^[0-9]{1,12}(?:\.[0-9]{1,4})?$"
MAX_ITEMS = 100


def _spend(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "42.50"; a JSON number is not exact')
    if not re.fullmatch(SPEND_PATTERN, value):
        raise ValueError("must be a decimal of at most 12 digits and 4 decimal places")
    return value


Spend = Annotated[
    Decimal,
    Strict(False),
    BeforeValidator(_spend),
    WithJsonSchema({"type": "string", "pattern": SPEND_PATTERN, "examples": ["42.50"]}),
]
ActionName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$", description="A custom action")]


class _Command(Model):
    model_config = COMMAND_CONFIG


class PurchaseItem(_Command):
    """One line of a purchase: earning rules may give its category more points."""

    sku: str = Field(min_length=1, max_length=64)
    category: str | None = Field(default=None, min_length=1, max_length=64)
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    amount: Spend


class EarnCommand(_Command):
    """Points as sent (`points`), or computed by the program's earning rules from a spend
    (`amount`, with its `items`) or a custom `action`: exactly one of the three."""

    points: Points | None = None
    amount: Spend | None = Field(
        default=None, description="The spend, in the settlement currency: rules compute points"
    )
    items: Annotated[tuple[PurchaseItem, ...], Strict(False)] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="The purchase's lines, summing to `amount`; without them the whole amount "
        "is one line with no category",
    )
    action: ActionName | None = Field(
        default=None, description="A custom action the program's rules give points for"
    )
    reference: Reference
    program: ProgramCode | None = Field(
        default=None, description="The program to earn in; the caller's own by default"
    )
    description: Description | None = None
    pending: bool = Field(
        default=False,
        description="Hold the points as pending until captured; a JSON boolean only",
    )

    @model_validator(mode="after")
    def _one_way_to_earn(self) -> EarnCommand:
        given = [name for name in ("points", "amount", "action") if getattr(self, name) is not None]
        if len(given) != 1:
            raise _field_error(
                given[-1] if given else "points", "give exactly one of points, amount or action"
            )
        if self.items is not None:
            if self.amount is None:
                raise _field_error("items", "items go with an amount")
            if sum(item.amount for item in self.items) != self.amount:
                raise _field_error("items", "the items' amounts must sum to amount")
        if self.action is not None and self.pending:
            raise _field_error("pending", "an action earn posts at once: it cannot be pending")
        return self

    @property
    def by_rules(self) -> bool:
        return self.points is None


def _field_error(field: str, message: str) -> ValidationError:
    """A rule between fields, reported on the field that breaks it (as `details` names it)."""
    return ValidationError.from_exception_data(
        "EarnCommand",
        [
            InitErrorDetails(
                type=PydanticCustomError("earn_body", message), loc=(field,), input=None
            )
        ],
    )


class BurnCommand(_Command):
    points: Points
    reference: Reference
    description: Description | None = None


class ReverseCommand(_Command):
    points: Points | None = Field(
        default=None, description="Points to reverse; all that remains by default"
    )
    reason: Description | None = None


class CaptureCommand(_Command):
    points: Points | None = Field(
        default=None,
        description="Points to make available, at most those held; all by default. "
        "The rest are released in the same transaction",
    )


class VoidCommand(_Command):
    reason: Description | None = None
