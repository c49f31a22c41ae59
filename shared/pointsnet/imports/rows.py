"""An import file's rows: each a member's opening balance, read from what the CSV item
reader gives (every value a string), or refused with the error the row would get as a
request."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import Field, ValidationError, field_validator

from pointsnet.imports.models import RefusedRow
from pointsnet.ledger.commands import MAX_POINTS, MEMBER_ID_PATTERN
from pointsnet.ledger.models import LotMove
from pointsnet.ledger.opening import OpeningRow
from pointsnet.model import Model

COLUMNS = ("member_id", "points", "reference", "tier", "lots")
# `lots`: points by expiry date, e.g. `300@2027-06-30;200@2027-12-31`
_LOT = re.compile(r"^([0-9]{1,10})@([0-9]{4}-[0-9]{2}-[0-9]{2})$")
MAX_LOTS = 24


class _Row(Model):
    member_id: str = Field(pattern=MEMBER_ID_PATTERN)
    points: int = Field(ge=1, le=MAX_POINTS)
    reference: str | None = Field(default=None, min_length=1, max_length=128)
    tier: str | None = Field(default=None, min_length=1, max_length=32)
    lots: tuple[LotMove, ...] = ()

    @field_validator("points", mode="before")
    @classmethod
    def _whole(cls, value: object) -> object:
        if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
            raise ValueError("must be a whole number of points")
        return int(value) if isinstance(value, str) else value

    @field_validator("lots", mode="before")
    @classmethod
    def _lots(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parts = [part.strip() for part in value.split(";") if part.strip()]
        if len(parts) > MAX_LOTS:
            raise ValueError(f"at most {MAX_LOTS} lots")
        moves = []
        for part in parts:
            match = _LOT.fullmatch(part)
            if match is None:
                raise ValueError("lots are POINTS@YYYY-MM-DD separated by ';'")
            day = date.fromisoformat(match[2]).isoformat()
            moves.append(LotMove(lot=day, points=int(match[1])))
        if len({move.lot for move in moves}) < len(moves):
            raise ValueError("a lot's date appears twice")
        return tuple(moves)


def read_row(line: int, values: Mapping[str, Any]) -> OpeningRow | RefusedRow:
    """Row `line` of the file (the header is line 1) as an opening balance, or refused."""
    cleaned = {
        name: value.strip() if isinstance(value, str) else value
        for name, value in values.items()
        if name in COLUMNS and value not in (None, "")
    }
    member_id = str(cleaned.get("member_id", ""))
    reference = str(cleaned.get("reference") or f"line {line}")
    try:
        row = _Row.model_validate(cleaned)
    except ValidationError as invalid:
        problem = invalid.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "row"
        return RefusedRow(
            line=line,
            member_id=member_id,
            reference=reference,
            code="validation_error",
            message=f"{field}: {problem['msg'].removeprefix('Value error, ')}",
        )
    canonical = json.dumps([line, cleaned], sort_keys=True, default=str)
    return OpeningRow(
        line=line,
        member_id=row.member_id,
        points=row.points,
        reference=reference,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        tier=row.tier,
        lots=row.lots,
    )
