"""What the metrics function is asked: the schedule's day before, one day, or a range."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from pointsnet.metrics.requests import MetricsRequest

NOW = datetime(2025, 3, 1, 0, 5, tzinfo=UTC)


def test_the_schedule_computes_the_utc_day_before_its_time() -> None:
    # Given the schedule's input at 01:00 UTC, and an empty event
    scheduled = MetricsRequest.model_validate({"scheduled_time": "2025-01-11T01:00:00Z"})
    empty = MetricsRequest.model_validate({})
    # When each is asked its days
    # Then the schedule's is the day before its time, the empty event's the day before now
    assert scheduled.days() == (date(2025, 1, 10), date(2025, 1, 10))
    assert empty.days(lambda: NOW) == (date(2025, 2, 28), date(2025, 2, 28))


def test_a_day_or_a_range_is_computed_as_asked() -> None:
    # Given a day, and a range
    one = MetricsRequest.model_validate({"day": "2025-01-10"})
    many = MetricsRequest.model_validate({"from": "2025-01-08", "to": "2025-01-10"})
    # When each is asked its days
    # Then they are that day, and the range's ends
    assert one.days() == (date(2025, 1, 10), date(2025, 1, 10))
    assert many.days() == (date(2025, 1, 8), date(2025, 1, 10))


@pytest.mark.parametrize(
    "event",
    [
        {"from": "2025-01-08"},
        {"to": "2025-01-08"},
        {"from": "2025-01-10", "to": "2025-01-08"},
        {"day": "2025-01-10", "from": "2025-01-08", "to": "2025-01-10"},
        {"date": "2025-01-10"},
        {"day": "10/01/2025"},
    ],
)
def test_anything_else_is_refused(event: dict[str, str]) -> None:
    # Given an event with half a range, a range backwards, two ways at once, or a typo
    # When it is read
    # Then it is refused rather than computing some other day
    with pytest.raises(ValidationError):
        MetricsRequest.model_validate(event)
