"""Program metrics: computed per program and UTC day from the journal, read per period.

`compute_day` reads every journal shard of a day (a thread pool), folds the entries into each
program's `DayFigures` and stores one item per program and day, active or not: outstanding
points are the day before's stored figure plus the day's net change, so days are computed in
order (the daily schedule does yesterday; `compute_days` back-fills a range, oldest first). A
day whose day before was never computed starts its count from 0, and says so
(`outstanding_since`).

`period` answers `GET /v1/programs/{program}/metrics` from one Query of the stored days of the
period and of the period before it (for retention): a partner its own program only (any
other is 404, as if it did not exist), finance and admin any.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pointsnet.auth.caller import Caller, Role
from pointsnet.caching import TimedCache
from pointsnet.clock import utc_now
from pointsnet.errors import NotFound, ValidationFailed
from pointsnet.journal.ports import JournalHeads, JournalObjects
from pointsnet.journal.reading import read_shard_day
from pointsnet.metrics.daily import DayFold
from pointsnet.metrics.models import DayFigures, DayReport, PeriodMetrics, ProgramInfo
from pointsnet.metrics.period import period_metrics, previous_period
from pointsnet.metrics.ports import MetricsDays, Programs
from pointsnet.observability import logger

MAX_PERIOD_DAYS = 92
# Shards read at once: each holds its shard's day of records until it is folded.
DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class _ShardRead:
    fold: DayFold
    objects: int
    bytes_read: int
    problems: int


class ProgramMetrics:
    def __init__(
        self,
        store: MetricsDays,
        programs: Programs,
        journal: tuple[JournalObjects, JournalHeads],
        *,
        currency: str,
        shards: int,
        clock: Callable[[], datetime] = utc_now,
        workers: int = DEFAULT_WORKERS,
        program_cache_seconds: float = 0,
    ) -> None:
        self.store = store
        self.programs = programs
        # A request reads its program's owner and point value: cached like a policy is.
        self._program_info: TimedCache[str, ProgramInfo | None] = TimedCache(program_cache_seconds)
        self.journal = journal
        self.currency = currency
        self.shards = shards
        self.clock = clock
        self.workers = workers

    # computing

    def compute_day(self, day: date) -> DayReport:
        """Fold the day's journal and store every program's figures for it."""
        if day > self.today():
            raise ValidationFailed(
                f"day {day.isoformat()} has not begun",
                details=[{"field": "day", "message": "must not be after today (UTC)"}],
            )
        programs = {info.program for info in self.programs.programs()}
        # The first shard in this thread: boto3 does not create clients safely across threads.
        reads = [self._read_shard(day, 0)]
        if self.shards > 1:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                reads += pool.map(lambda shard: self._read_shard(day, shard), range(1, self.shards))
        fold = DayFold(day)
        for read in reads:
            fold.merge(read.fold)
        now = self.clock()
        folded = fold.figures(now)
        for program in sorted(programs | set(folded)):
            figures = folded.get(program) or DayFigures.empty(program, day).model_copy(
                update={"computed_at": now}
            )
            previous = self.store.get_day(program, day - timedelta(days=1))
            self.store.put_day(figures.carried_from(previous))
        report = DayReport(
            day=day,
            programs=sorted(programs | set(folded)),
            entries=fold.entries,
            objects=sum(read.objects for read in reads),
            journal_bytes=sum(read.bytes_read for read in reads),
            journal_problems=sum(read.problems for read in reads),
            computed_at=now,
        )
        if report.journal_problems:
            logger.warning("metrics day read an incomplete journal", extra=_log(report))
        else:
            logger.info("metrics day computed", extra=_log(report))
        return report

    def compute_days(
        self, first: date, last: date, out_of_time: Callable[[], bool] = lambda: False
    ) -> list[DayReport]:
        """Each day from `first` to `last`, oldest first (each carries the one before); stops
        early when `out_of_time` says so: the report's last day says where to go on from."""
        if last < first:
            raise ValidationFailed(
                "the range ends before it starts",
                details=[{"field": "to", "message": "must not be before from"}],
            )
        reports: list[DayReport] = []
        day = first
        while day <= last and not (reports and out_of_time()):
            reports.append(self.compute_day(day))
            day += timedelta(days=1)
        return reports

    def _read_shard(self, day: date, shard: int) -> _ShardRead:
        objects, heads = self.journal
        read = read_shard_day(objects, heads, day, shard)
        return _ShardRead(
            fold=DayFold(day).add(read.records),
            objects=read.objects,
            bytes_read=read.bytes_read,
            problems=len(read.problems),
        )

    # reading

    def period(self, caller: Caller, program: str, start: date, end: date) -> PeriodMetrics:
        """The period's metrics, from one Query of its stored days and the period before's."""
        info = self._readable(caller, program)
        self._check_period(start, end)
        before_start, before_end = previous_period(start, end)
        stored = self.store.days(program, before_start, end)
        return period_metrics(
            info,
            start,
            end,
            [day for day in stored if day.day >= start],
            [day for day in stored if day.day <= before_end],
            self.currency,
        )

    def _readable(self, caller: Caller, program: str) -> ProgramInfo:
        if caller.role == Role.PARTNER and caller.program != program:
            raise NotFound(f"no program {program}")
        info = self._program_info.get(program, self.programs.program)
        if info is None:
            raise NotFound(f"no program {program}")
        return info

    def _check_period(self, start: date, end: date) -> None:
        if end < start:
            raise ValidationFailed(
                "period_end is before period_start",
                details=[{"field": "period_end", "message": "must not be before period_start"}],
            )
        if end > self.today():
            raise ValidationFailed(
                "the period ends in the future",
                details=[{"field": "period_end", "message": "must not be after today (UTC)"}],
            )
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise ValidationFailed(
                f"a period is at most {MAX_PERIOD_DAYS} days",
                details=[{"field": "period_start", "message": f"at most {MAX_PERIOD_DAYS} days"}],
            )

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()


def _log(report: DayReport) -> dict[str, object]:
    return {
        "day": report.day.isoformat(),
        "programs": len(report.programs),
        "entries": report.entries,
        "journal_objects": report.objects,
        "journal_bytes": report.journal_bytes,
        "journal_problems": report.journal_problems,
    }
