"""What the metrics function is asked to compute: the schedule's day before, one day, or a
range to back-fill, oldest first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from pydantic import ConfigDict, Field, model_validator

from pointsnet.clock import utc_now
from pointsnet.model import Model
from pointsnet.settlement.models import IsoDate


class MetricsRequest(Model):
    """`{"scheduled_time": ...}` or `{}`: the UTC day before it (or before now);
    `{"day": "YYYY-MM-DD"}`: that day; `{"from": ..., "to": ...}`: each day of the range."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    day: IsoDate | None = None
    first: IsoDate | None = Field(default=None, alias="from")
    last: IsoDate | None = Field(default=None, alias="to")
    scheduled_time: datetime | None = None

    @model_validator(mode="after")
    def _one_way(self) -> MetricsRequest:
        ranged = (self.first is not None, self.last is not None)
        if ranged[0] != ranged[1]:
            raise ValueError("a range needs both from and to")
        if sum((self.day is not None, all(ranged), self.scheduled_time is not None)) > 1:
            raise ValueError("give one of day, from and to, or scheduled_time")
        if self.first is not None and self.last is not None and self.last < self.first:
            raise ValueError("to is before from")
        return self

    def days(self, clock: Callable[[], datetime] = utc_now) -> tuple[date, date]:
        """The first and last day to compute, both included."""
        if self.day is not None:
            return self.day, self.day
        if self.first is not None and self.last is not None:
            return self.first, self.last
        moment = self.scheduled_time or clock()
        yesterday = moment.astimezone(UTC).date() - timedelta(days=1)
        return yesterday, yesterday
