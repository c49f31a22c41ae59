"""EventBridge Scheduler's schedule expressions: `rate(...)`, `cron(...)` and `at(...)`.

`Expression.parse` reads one; `slots_after` and `latest_slot` say when it comes due, in UTC,
with a cron evaluated in the schedule's own time zone. Cron's `L`, `W` and `#` are refused.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
# Scheduler counts weekdays from Sunday = 1.
_WEEKDAYS = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)
}
_CRON_FIELDS: tuple[tuple[str, int, int, Mapping[str, int]], ...] = (  # name, low, high, names
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _WEEKDAYS),
    ("year", 1970, 2199, {}),
)


@dataclass(frozen=True)
class Expression:
    """A Scheduler expression: `rate(15 minutes)`, `cron(15 0 * * ? *)`, `at(2027-01-01T00:00)`."""

    text: str
    period: timedelta | None = None
    cron: tuple[frozenset[int] | None, ...] = ()
    at: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> Expression:
        match = re.fullmatch(r"(rate|cron|at)\((.*)\)", text.strip())
        if match is None:
            raise ValueError(f"not a Scheduler expression: {text!r}")
        kind, body = match.groups()
        if kind == "rate":
            rate = re.fullmatch(r"(\d+) (minute|hour|day)s?", body.strip())
            if rate is None or int(rate.group(1)) < 1:
                raise ValueError(f"not a rate expression: {text!r}")
            return cls(
                text, period=timedelta(seconds=int(rate.group(1)) * _RATE_UNITS[rate.group(2)])
            )
        if kind == "at":
            return cls(text, at=datetime.fromisoformat(body.strip()))
        fields = body.split()
        if len(fields) != len(_CRON_FIELDS):
            raise ValueError(f"a cron expression has six fields: {text!r}")
        return cls(
            text,
            cron=tuple(
                _cron_field(value, *spec) for value, spec in zip(fields, _CRON_FIELDS, strict=True)
            ),
        )

    def slots_after(self, start: datetime, after: datetime, zone: ZoneInfo) -> datetime | None:
        """The first slot strictly after `after` (all UTC), counting rates from `start`."""
        if self.period is not None:
            elapsed = max(timedelta(0), after - start)
            steps = elapsed // self.period + 1
            return start + steps * self.period
        if self.at is not None:
            moment = self.at.replace(tzinfo=zone).astimezone(UTC)
            return moment if moment > after else None
        return _next_cron(self.cron, after, zone)

    def latest_slot(
        self, start: datetime, now: datetime, zone: ZoneInfo, last: datetime
    ) -> datetime | None:
        """The latest slot in (last, now], or None when none came due."""
        slot = self.slots_after(start, last, zone)
        if slot is None or slot > now:
            return None
        if self.period is not None:
            return start + ((now - start) // self.period) * self.period
        while True:
            following = self.slots_after(start, slot, zone)
            if following is None or following > now:
                return slot
            slot = following


def _cron_field(
    value: str, name: str, low: int, high: int, names: Mapping[str, int]
) -> frozenset[int] | None:
    """The values a cron field allows; None for `*` or `?` (any)."""
    if value in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in value.upper().split(","):
        # A name such as JUL or WED is not an L or W.
        unnamed = re.sub("|".join(names), "", part) if names else part
        if re.search(r"[LW#]", unnamed):
            raise ValueError(
                f"{name} {value!r}: L, W and # are not supported by the local scheduler"
            )
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (_cron_value(bound, names) for bound in span.split("-", 1))
        else:
            first = last = _cron_value(span, names)
            if step:
                last = high
        if not low <= first <= last <= high:
            raise ValueError(f"{name} {value!r} is out of range {low}-{high}")
        allowed.update(range(first, last + 1, int(step) if step else 1))
    return frozenset(allowed)


def _cron_value(text: str, names: Mapping[str, int]) -> int:
    return names[text] if text in names else int(text)


def _next_cron(
    fields: tuple[frozenset[int] | None, ...], after: datetime, zone: ZoneInfo
) -> datetime | None:
    minutes, hours, days, months, weekdays, years = fields
    local = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = local.replace(hour=0, minute=0)
    for _ in range(366 * 5):  # an expression that never matches within five years never fires
        weekday = (day.weekday() + 1) % 7 + 1  # Monday is 0 to Python, 2 to Scheduler
        if (
            (years is None or day.year in years)
            and (months is None or day.month in months)
            and (days is None or day.day in days)
            and (weekdays is None or weekday in weekdays)
        ):
            for hour in sorted(hours) if hours is not None else range(24):
                for minute in sorted(minutes) if minutes is not None else range(60):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate >= local:
                        return candidate.astimezone(UTC)
        day = (day + timedelta(days=1)).replace(hour=0, minute=0)
    return None
