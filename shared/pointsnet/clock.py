"""The network's one notion of time: UTC, stored and shown as fixed-width RFC 3339."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """Fixed-width UTC time, so that string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Every time the network stores or shows: RFC 3339, UTC, fixed width.
UtcTime = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]
