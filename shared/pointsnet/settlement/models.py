"""Settlements as stored, shown and reported."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, Strict, WithJsonSchema, model_validator

from pointsnet.clock import UtcTime
from pointsnet.model import Model

# A period longer than a year is almost certainly a typo, and reads a year of obligations.
MAX_PERIOD_DAYS = 366
SETTLEMENT_ID_PATTERN = r"^stl_[0-9]{8}_[0-9]{8}(_a[0-9]{1,4})?$"


# Settlement days: 2000-01-01 to 2099-12-31, exactly the valid dates of those years, so that the
# OpenAPI document shows the same bound the server applies (and every id stays 8 digits).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
ISO_DATE_PATTERN = (
    r"^(?:20[0-9]{2}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|20(?:[02468][048]|[13579][26])-02-29)$"
)
_DATE_RANGE = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


def _iso_date_only(value: object) -> object:
    # pydantic would also take a Unix time or a datetime; a period is named by calendar days.
    if isinstance(value, date):
        if not FIRST_DAY <= value <= LAST_DAY:
            raise ValueError(f"must be a day from {_DATE_RANGE}")
        return value
    if not isinstance(value, str) or not re.fullmatch(ISO_DATE_PATTERN, value):
        raise ValueError(f"must be a day from {_DATE_RANGE}, written YYYY-MM-DD")
    return value


# Parsed from its string even in a strict model (a request body); _iso_date_only refuses numbers.
IsoDate = Annotated[
    date,
    Strict(False),
    BeforeValidator(_iso_date_only),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": ISO_DATE_PATTERN,
            "description": f"A UTC day from {_DATE_RANGE}, written YYYY-MM-DD",
        }
    ),
]


class SettlementStatus(StrEnum):
    DRAFT = "draft"
    NEEDS_REVIEW = "needs_review"
    APPROVED = "approved"
    DISPUTED = "disputed"
    PAID = "paid"


# Figures of these never change again; a later difference becomes an adjustment.
FROZEN_STATUSES = frozenset({SettlementStatus.APPROVED, SettlementStatus.PAID})


class SettlementKind(StrEnum):
    SETTLEMENT = "settlement"
    ADJUSTMENT = "adjustment"


class Period(Model):
    """Whole UTC days, both ends included."""

    model_config = ConfigDict(frozen=True)

    period_start: IsoDate
    period_end: IsoDate

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        if (self.period_end - self.period_start).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError(f"a period is at most {MAX_PERIOD_DAYS} days")
        return self

    def days(self) -> Iterator[date]:
        day = self.period_start
        while day <= self.period_end:
            yield day
            day += timedelta(days=1)

    @property
    def first_moment(self) -> str:
        """The period's first instant, in the ledger's fixed-width RFC 3339 form."""
        return f"{self.period_start.isoformat()}T00:00:00.000000Z"

    @property
    def last_moment(self) -> str:
        return f"{self.period_end.isoformat()}T23:59:59.999999Z"

    @property
    def label(self) -> str:
        return f"{self.period_start.isoformat()}..{self.period_end.isoformat()}"

    def contains(self, moment: datetime) -> bool:
        return self.period_start <= moment.astimezone(UTC).date() <= self.period_end

    def overlaps(self, other: Period) -> bool:
        return self.period_start <= other.period_end and other.period_start <= self.period_end


def settlement_id_for(period: Period) -> str:
    """One settlement per period: a re-run of the period finds it again by this id."""
    # isoformat always writes four digits of year, where strftime's %Y may write fewer.
    start, end = (
        day.isoformat().replace("-", "") for day in (period.period_start, period.period_end)
    )
    return f"stl_{start}_{end}"


def adjustment_id_for(period: Period, sequence: int) -> str:
    return f"{settlement_id_for(period)}_a{sequence}"


class SettlementLine(Model):
    """What one partner owes another for the points of one program in the period."""

    model_config = ConfigDict(frozen=True)

    payer: str
    payee: str
    program: str
    points: int = Field(description="Net points of `program` the payer pays for")
    exact_amount: Decimal = Field(description="The exact sum of points x unit price, unrounded")
    amount: Decimal = Field(description="`exact_amount` rounded half-even to the minor unit")
    rounding: Decimal = Field(description="`amount` - `exact_amount`")
    obligations: int = Field(description="Cross-partner transactions summed into this line")
    unit_prices: list[Decimal] = Field(
        default_factory=list,
        description=(
            "The prices per point, in the settlement currency, of the line's obligations, "
            "lowest first: one unless the program's point value changed in the period or a "
            "pair's own price applied (an exchange); empty for settlements from before it was "
            "recorded"
        ),
    )


class BilateralNet(Model):
    """Two partners' lines netted into one payment, whichever way it goes."""

    model_config = ConfigDict(frozen=True)

    payer: str
    payee: str
    amount: Decimal = Field(description="Never negative: the payer is the side that owes")


class NetPosition(Model):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    amount: Decimal = Field(description="Positive when the partner receives, negative when it pays")


class RoundingResidual(Model):
    """The one line that reconciles the exact figures with the rounded ones."""

    model_config = ConfigDict(frozen=True)

    rule: str
    exact_total: Decimal = Field(description="Sum of the lines' exact amounts")
    settled_total: Decimal = Field(description="Sum of the lines' rounded amounts")
    residual: Decimal = Field(description="`settled_total` - `exact_total`")


class CheckFinding(Model):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The offending transaction, account or obligation")
    message: str


class Check(Model):
    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    description: str
    offending: int = Field(default=0, description="How many ids failed; `details` lists the first")
    details: list[CheckFinding] = Field(default_factory=list)


class AuditEntry(Model):
    """One step of a settlement's life: what happened, who did it, when and why."""

    model_config = ConfigDict(frozen=True)

    action: str = Field(description="run, approve, dispute or mark_paid")
    from_status: SettlementStatus | None = None
    to_status: SettlementStatus
    at: UtcTime
    partner_id: str
    key_id: str | None = Field(default=None, description="The API key; none for the schedule")
    reason: str | None = None
    payment_reference: str | None = None


class RunSummary(Model):
    """What the reconciliation run that produced the figures read."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    started_at: UtcTime
    finished_at: UtcTime
    invocations: int = Field(description="Checks the run made: one per journal shard and day")
    pages: int = Field(description="Journal objects the run read")
    transactions: int = Field(description="Ledger transactions of the period")
    cross_partner_transactions: int
    obligations: int
    accounts_checked: int
    journal_bytes: int = Field(default=0, description="Bytes of journal the run read")
    unjournaled_obligations: int = Field(
        default=0,
        description=(
            "Obligations whose transactions were minutes old and not journaled yet: counted "
            "in the lines, checked by a later run of the period"
        ),
    )
    detail_parts: int | None = Field(
        default=None,
        description=(
            "Objects of obligation detail the run recorded (one per journal shard and day "
            "with obligations); none: the run recorded no detail"
        ),
    )


class Settlement(Model):
    model_config = ConfigDict(frozen=True)

    settlement_id: str
    kind: SettlementKind = SettlementKind.SETTLEMENT
    adjusts: str | None = Field(
        default=None, description="For an adjustment: the settlement whose figures it corrects"
    )
    period_start: date
    period_end: date
    currency: str
    status: SettlementStatus
    version: int = Field(default=1, description="Goes up by one on every change")
    lines: list[SettlementLine]
    bilateral: list[BilateralNet]
    net_positions: list[NetPosition]
    rounding: RoundingResidual
    checks: list[Check]
    audit: list[AuditEntry]
    run: RunSummary
    payment_reference: str | None = None
    created_at: UtcTime
    updated_at: UtcTime
    provisional: bool = Field(
        default=False,
        description=(
            "The period had not ended when the run started (it ends on or after the run's UTC "
            "day): obligations posted later in the period are not in these figures, and a later "
            "run may change them (an adjustment, once approved)"
        ),
    )
    adjustments: list[str] = Field(
        default_factory=list,
        description="For a settlement: the ids of its adjustments, oldest first",
    )

    @model_validator(mode="before")
    @classmethod
    def _provisional_of_older_versions(cls, data: object) -> object:
        # Settlements stored before `provisional` was recorded: their period and run tell.
        if isinstance(data, dict) and "provisional" not in data:
            try:
                run = data["run"]
                started = run.started_at if isinstance(run, RunSummary) else run["started_at"]
                run_day = _utc_day(started)
                period_end = date.fromisoformat(str(data["period_end"]))
            except (KeyError, TypeError, ValueError):
                return data
            return data | {"provisional": period_end >= run_day}
        return data

    @property
    def period(self) -> Period:
        return Period(period_start=self.period_start, period_end=self.period_end)

    @property
    def checks_failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def frozen(self) -> bool:
        return self.status in FROZEN_STATUSES


def provisional_at(period_end: date, run_started_at: datetime) -> bool:
    """A period has not ended when it ends on or after the UTC day its run started."""
    return period_end >= run_started_at.astimezone(UTC).date()


def _utc_day(moment: object) -> date:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).date()
    if not isinstance(moment, str):
        raise TypeError("not a time")
    # Stored times are RFC 3339 in UTC, fixed width: the day is their first ten characters.
    return date.fromisoformat(moment[:10])


class SettlementSummary(Model):
    """A settlement in a list: what finance needs to pick one."""

    model_config = ConfigDict(frozen=True)

    settlement_id: str
    kind: SettlementKind
    adjusts: str | None = None
    period_start: date
    period_end: date
    currency: str
    status: SettlementStatus
    version: int
    settled_total: Decimal = Field(description="Sum of the lines' rounded amounts")
    checks_failed: int
    created_at: UtcTime
    updated_at: UtcTime
    provisional: bool = Field(
        default=False, description="The period had not ended when its run started"
    )

    @classmethod
    def of(cls, settlement: Settlement) -> SettlementSummary:
        return cls(
            settlement_id=settlement.settlement_id,
            kind=settlement.kind,
            adjusts=settlement.adjusts,
            period_start=settlement.period_start,
            period_end=settlement.period_end,
            currency=settlement.currency,
            status=settlement.status,
            version=settlement.version,
            settled_total=settlement.rounding.settled_total,
            checks_failed=len(settlement.checks_failed),
            created_at=settlement.created_at,
            updated_at=settlement.updated_at,
            provisional=settlement.provisional,
        )


class SettlementListItem(SettlementSummary):
    """A settlement in the list, with the ids of its adjustments (found in the same list)."""

    adjustments: list[str] = Field(
        default_factory=list,
        description="For a settlement: the ids of its adjustments, oldest first",
    )


class Actor(Model):
    """Who made something happen: a key of a partner, or the schedule (no key)."""

    model_config = ConfigDict(frozen=True)

    partner_id: str
    key_id: str | None = None


SCHEDULER = Actor(partner_id="scheduler")
