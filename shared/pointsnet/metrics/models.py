"""What program metrics are made of: a program's figures for one UTC day, as stored, and the
figures of a period, as answered.

`DayFigures` holds exact sums and counts and the day's members (`members.MemberSet`);
`PeriodMetrics` is the response of `GET /v1/programs/{program}/metrics`: points are integers,
money and ratios decimal strings, every formula named in `formulas`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.metrics.members import EMPTY, MemberSet
from pointsnet.model import Model


class DayFigures(Model):
    """One program's day: what its members' entries of that UTC day add up to."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    program: str
    day: date
    points_issued: int = 0  # earns and captures credited, less their reversals
    points_redeemed: int = 0  # burns, less their reversals
    points_expired: int = 0
    points_exchanged_in: int = 0
    points_exchanged_out: int = 0
    net_change: int = 0  # every entry's change to its member's available + pending
    outstanding_end: int = 0  # available + pending of all members at the day's end
    outstanding_since: date  # the first day of the unbroken run of days outstanding adds up
    entries: int = 0
    new_members: int = 0  # entries numbered 1: a member account's first
    purchases: int = 0  # earns with an `amount`
    spend: Decimal = Decimal(0)  # the sum of their amounts
    active: MemberSet = EMPTY  # members with any entry
    purchasers: MemberSet = EMPTY  # members with a purchase
    computed_at: UtcTime | None = None

    @classmethod
    def empty(cls, program: str, day: date) -> DayFigures:
        return cls(program=program, day=day, outstanding_since=day)

    def carried_from(self, previous: DayFigures | None) -> DayFigures:
        """Outstanding at the day's end: the day before's, plus this day's net change. With no
        day before stored, the count starts here, from 0."""
        if previous is None:
            return self.model_copy(
                update={"outstanding_end": self.net_change, "outstanding_since": self.day}
            )
        return self.model_copy(
            update={
                "outstanding_end": previous.outstanding_end + self.net_change,
                "outstanding_since": previous.outstanding_since,
            }
        )


class ProgramInfo(Model):
    """A program as metrics need it: its owner and what one of its points is worth."""

    model_config = ConfigDict(frozen=True)

    program: str
    partner_id: str
    point_value: Decimal | None = None


class DayReport(Model):
    """What computing one day read and stored."""

    day: date
    programs: list[str]
    entries: int = Field(description="Entries of the day folded, each once")
    objects: int = Field(description="Journal objects read")
    journal_bytes: int = Field(description="Bytes of journal objects read")
    journal_problems: int = Field(
        description="Problems the journal reader found (a missing or altered object): the "
        "day's figures leave out what could not be read; reconciliation names each"
    )
    computed_at: UtcTime


class PeriodMetrics(Model):
    """A program's figures over whole UTC days, both ends included."""

    program: str
    period_start: date
    period_end: date
    currency: str = Field(description="Of `point_value`, `liability` and the money figures")
    point_value: Decimal | None = Field(
        description="What one point is worth (the owner's, as it is now); null if unset"
    )
    points_issued: int = Field(
        description="Points of earns and captures credited to members, less their reversals"
    )
    points_redeemed: int = Field(description="Points burned, less the burns' reversals")
    points_expired: int = Field(description="Points of expiry transactions")
    points_exchanged_in: int = Field(description="Points exchanged into members' accounts")
    points_exchanged_out: int = Field(description="Points exchanged out of members' accounts")
    points_outstanding: int | None = Field(
        description="Members' available + pending at the end of `outstanding_as_of`; null "
        "when no day of the period is computed"
    )
    outstanding_as_of: date | None = Field(
        description="The last computed day of the period: `period_end` unless it is missing"
    )
    outstanding_since: date | None = Field(
        description="The first day of the unbroken run of computed days `points_outstanding` "
        "adds up from (the metrics start from 0 there)"
    )
    liability: Decimal | None = Field(
        description="points_outstanding x point_value, exact; null without either"
    )
    breakage: Decimal | None = Field(
        description="points_expired / points_issued, 4 places; null when none were issued"
    )
    active_members: int = Field(description="Distinct members with any entry in the period")
    new_members: int = Field(description="Members whose first entry ever is in the period")
    retention: Decimal | None = Field(
        description="Of the members active in the previous period of equal length, the share "
        "active again in this one, 4 places; null when none were active then"
    )
    previous_period_start: date
    previous_period_end: date
    purchase_frequency: Decimal | None = Field(
        description="Earns with an amount per distinct member who made them, 4 places"
    )
    average_order_value: Decimal | None = Field(
        description="The earns' amounts summed over their count, to the currency's minor unit"
    )
    lifetime_value: Decimal | None = Field(
        description="average_order_value x purchase_frequency / (1 - retention), from the "
        "figures as shown, to the currency's minor unit; null when retention is null or 1"
    )
    purchases: int = Field(description="Earns with an amount")
    spend: Decimal = Field(description="The sum of their amounts, exact")
    days_computed: int = Field(description="Days of the period with stored figures")
    days_missing: list[date] = Field(description="Days of the period with no figures yet")
    previous_days_computed: int = Field(
        description="Days of the previous period with stored figures (what retention reads)"
    )
    estimated: bool = Field(
        description="True when a member count or retention is a sketch's estimate (a day "
        "with over 20,000 active members): typically within 2-3 %"
    )
    formulas: dict[str, str] = Field(description="Each derived figure's formula and rounding")
    computed_at: UtcTime | None = Field(
        default=None, description="When the latest of the period's days was computed"
    )
