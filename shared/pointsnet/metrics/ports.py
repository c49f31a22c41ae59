"""What program metrics read and write through: the stored days, and the programs.

`pointsnet.store.metrics_store` implements both (`MetricsStore` in the settlement table,
`ProgramDirectoryStore` on the directory); the journal is read through the journal's own
ports (`pointsnet.journal.ports`).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pointsnet.metrics.models import DayFigures, ProgramInfo


class MetricsDays(Protocol):
    def put_day(self, figures: DayFigures) -> None:
        """Store a program's day, replacing what was stored for it."""
        ...

    def get_day(self, program: str, day: date) -> DayFigures | None:
        """One program's stored day, read consistently (the day before, when computing)."""
        ...

    def days(self, program: str, first: date, last: date) -> list[DayFigures]:
        """A program's stored days from `first` to `last`, both included, oldest first: one
        Query (paged by DynamoDB at 1 MB), never a Scan."""
        ...


class Programs(Protocol):
    def program(self, program: str) -> ProgramInfo | None:
        """A program, its owner and point value; None for a program no partner owns."""
        ...

    def programs(self) -> list[ProgramInfo]:
        """Every program of the network: each gets a day stored, active or not, so that its
        outstanding points carry over to the next day."""
        ...
