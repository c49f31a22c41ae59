"""What a partner asks the ledger to do: the validated bodies of its requests."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

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


class _Command(BaseModel):
    model_config = COMMAND_CONFIG


class EarnCommand(_Command):
    points: Points
    reference: Reference
    program: ProgramCode | None = Field(
        default=None, description="The program to earn in; the caller's own by default"
    )
    description: Description | None = None
    pending: bool = Field(
        default=False,
        description="Hold the points as pending until captured; a JSON boolean only",
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
