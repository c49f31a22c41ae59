"""A reconciliation run: plan the period, check each journal shard of each day, settle.

1. plan: claim the period (one run at a time) and write the run's record; its items are every
   journal shard of every day of the period;
2. check: one item at a time (on AWS, one Lambda each, in parallel: the state machine's
   Distributed Map), `shard_check` reads that shard's day and keeps its tally, and the
   obligations it summed are recorded for the reports (`line_detail`);
3. settle: add the tallies up, round, net, record the checks and write the settlement. Its
   reports are rendered where the partner directory is read (the finance API, `service`).

The settlement of a period has one id. While it is not approved a run replaces it; once
approved it never changes, and a run that finds a difference writes an adjustment.
`reconcile` runs the three steps in this process, the checks on a thread pool: the local
runtime and a run too small to need the state machine do that.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from pointsnet.clock import utc_now
from pointsnet.errors import Conflict, NotFound, PointsNetError, RequestInProgress, ValidationFailed
from pointsnet.journal.reading import read_shard_day
from pointsnet.observability import logger, metrics
from pointsnet.settlement.arithmetic import difference, figures_of, settle_lines
from pointsnet.settlement.checks import build_checks
from pointsnet.settlement.line_detail import record_part
from pointsnet.settlement.models import (
    SCHEDULER,
    Actor,
    Period,
    RunSummary,
    Settlement,
    SettlementKind,
    SettlementLine,
    SettlementStatus,
    adjustment_id_for,
    provisional_at,
    settlement_id_for,
)
from pointsnet.settlement.ports import RunBusy, SettlementMoved
from pointsnet.settlement.run_state import (
    RunItem,
    RunOutcome,
    RunProgress,
    RunRecord,
    RunState,
    RunStatus,
    ShardTally,
)
from pointsnet.settlement.shard_check import check_shard, checked_part
from pointsnet.settlement.workflow import RECOMPUTABLE, run_entry

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from pointsnet.journal.ports import JournalHeads, JournalObjects
    from pointsnet.settlement.ports import LedgerDayPort, ReportStore, SettlementPort

# How long a run holds its period: a day's checks take minutes; a run that died frees it then.
RUN_LEASE = timedelta(hours=1)
# Checks a run in this process makes at once.
DEFAULT_WORKERS = 8
# Items a plan lists at most: each is some 40 bytes of the Map's input, which is capped at 256 KB.
MAX_ITEMS = 4096


class Reconciler:
    def __init__(
        self,
        store: SettlementPort,
        ledger: LedgerDayPort,
        journal: tuple[JournalObjects, JournalHeads],
        reports: ReportStore,
        currency: str = "USD",
        *,
        shards: int,
        workers: int = DEFAULT_WORKERS,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        run_metrics: Metrics = metrics,
        announce: Callable[[Settlement], None] | None = None,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.journal_objects, self.journal_heads = journal
        self.reports = reports
        self.currency = currency
        self.shards = shards
        self.workers = workers
        self.clock = clock
        self.sleep = sleep
        self.metrics = run_metrics
        # Tells partners a settlement is ready for review (`settlement.ready`); None: silent.
        self.announce = announce

    def reconcile(
        self,
        period: Period,
        *,
        actor: Actor = SCHEDULER,
        reason: str | None = None,
        run_id: str | None = None,
    ) -> RunOutcome:
        """Plan, check and settle the period in this process."""
        record = self.plan(period, actor=actor, reason=reason, run_id=run_id)
        try:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                list(pool.map(lambda item: self.check(record.run_id, item), self.items(record)))
        except Exception as exc:
            self.fail(record.run_id, exc)
            raise
        return self.settle(record.run_id)

    # the three steps

    def plan(
        self,
        period: Period,
        *,
        actor: Actor = SCHEDULER,
        reason: str | None = None,
        run_id: str | None = None,
    ) -> RunRecord:
        """Claim the period and record the run; the same run_id again answers the same record.

        Raises ValidationFailed for a period that ends in the future, Conflict when another
        period overlaps this one, RequestInProgress while another run holds this period.
        """
        if run_id is not None and (existing := self.store.get_run(run_id)) is not None:
            return existing
        if period.period_end > self.clock().astimezone(UTC).date():
            raise ValidationFailed(
                f"period {period.label} ends in the future",
                details=[{"field": "period_end", "message": "must not be after today (UTC)"}],
            )
        overlapping = self.store.overlapping(period)
        if overlapping:
            raise Conflict(
                f"period {period.label} overlaps settlement "
                + ", ".join(summary.settlement_id for summary in overlapping)
            )
        settlement_id = settlement_id_for(period)
        run_id = run_id or "run_" + uuid.uuid4().hex
        try:
            self.store.claim_run(settlement_id, run_id, self._epoch(), self._epoch(RUN_LEASE))
        except RunBusy as exc:
            raise RequestInProgress(
                f"a run of {period.label} is in progress; retry in a moment"
            ) from exc
        record = RunRecord(
            run_id=run_id,
            settlement_id=settlement_id,
            period=period,
            currency=self.currency,
            actor=actor,
            reason=reason or f"reconciliation of {period.label}",
            started_at=self.clock(),
            items=len(list(period.days())) * self.shards,
        )
        self.store.put_run(record)
        logger.info(
            "reconciliation run planned",
            extra={"settlement_id": settlement_id, "run_id": run_id, "items": record.items},
        )
        return record

    def items(self, record: RunRecord) -> list[RunItem]:
        """One item per shard and day, or per shard and run of days when that would be more
        than `MAX_ITEMS` (the plan's answer is the Map's input, at most 256 KB)."""
        days = list(record.period.days())
        per_item = -(-len(days) * self.shards // MAX_ITEMS)
        return [
            RunItem(day=days[start], shard=shard, days=len(days[start : start + per_item]))
            for start in range(0, len(days), per_item)
            for shard in range(self.shards)
        ]

    def check(self, run_id: str, item: RunItem) -> list[ShardTally]:
        """Check one journal shard of each day of the item; keep a tally of each for settling."""
        record = self.run_record(run_id)
        tallies = []
        for offset in range(item.days):
            day = item.day + timedelta(days=offset)
            journal = read_shard_day(
                self.journal_objects, self.journal_heads, day, item.shard, checked_part
            )
            tally = check_shard(journal, self.ledger, record.currency, self.clock(), self.sleep)
            tally.detail_rows = record_part(self.reports, record.period, run_id, tally)
            self.store.put_tally(run_id, tally)
            tallies.append(tally)
        return tallies

    def settle(self, run_id: str) -> RunOutcome:
        """Add the run's tallies up and write its settlement; a settled run answers it again."""
        record = self.run_record(run_id)
        if record.status == RunStatus.SUCCEEDED and record.settled is not None:
            return RunOutcome(record.period, settlement=self.store.get(record.settled))
        tallies = self.store.tallies(run_id)
        if len(tallies) != record.items:
            raise Conflict(f"run {run_id} has {len(tallies)} of its {record.items} checks")
        outcome = self.finish(RunState.of(record, tallies))
        self.store.end_run(record.settlement_id, run_id)
        assert outcome.settlement is not None
        self.store.put_run(
            record.model_copy(
                update={
                    "status": RunStatus.SUCCEEDED,
                    "finished_at": self.clock(),
                    "settled": outcome.settlement.settlement_id,
                }
            )
        )
        return outcome

    def fail(self, run_id: str, error: BaseException | str) -> RunRecord:
        """Record that a run failed, and free its period for the next one."""
        record = self.run_record(run_id)
        failed = record.model_copy(
            update={
                "status": RunStatus.FAILED,
                "finished_at": self.clock(),
                "error": error if isinstance(error, str) else type(error).__name__,
            }
        )
        self.store.put_run(failed)
        self.store.release_run(record.settlement_id, run_id)
        return failed

    def progress(self, run_id: str) -> RunOutcome:
        record = self.run_record(run_id)
        if record.status == RunStatus.SUCCEEDED and record.settled is not None:
            return RunOutcome(record.period, settlement=self.store.get(record.settled))
        return RunOutcome(record.period, progress=RunProgress.of(record))

    def run_record(self, run_id: str) -> RunRecord:
        """The run's record; NotFound when there is none."""
        record = self.store.get_run(run_id)
        if record is None:
            raise NotFound(f"no settlement run {run_id}")
        return record

    # finishing

    def finish(self, state: RunState) -> RunOutcome:
        now = self.clock()
        lines = settle_lines(state.totals.lines.values(), state.currency)
        run = RunSummary(
            run_id=state.run_id,
            started_at=state.started_at,
            finished_at=now,
            invocations=state.tallies.invocations,
            pages=state.tallies.pages,
            transactions=state.tallies.transactions,
            cross_partner_transactions=state.tallies.cross_partner_transactions,
            obligations=state.tallies.obligations,
            accounts_checked=state.tallies.accounts_checked,
            journal_bytes=state.tallies.journal_bytes,
            unjournaled_obligations=state.tallies.unjournaled_obligations,
            detail_parts=state.tallies.detail_parts,
        )
        for _ in range(3):
            try:
                outcome = self._write(state, lines, run, now)
            except SettlementMoved:
                continue  # approved or re-run meanwhile: decide again from what is stored
            if outcome.changed and outcome.settlement is not None:
                self._observe(outcome.settlement)
                self._announce(outcome.settlement)
            return outcome
        raise Conflict(f"settlement {state.settlement_id} keeps changing; run the period again")

    def _write(
        self, state: RunState, lines: list[SettlementLine], run: RunSummary, now: datetime
    ) -> RunOutcome:
        base = self.store.get(state.settlement_id)
        if base is None:
            settlement = self._settlement(state, state.settlement_id, lines, run, now, None)
            self.store.create(settlement)
            return RunOutcome(state.period, settlement=settlement, changed=True)
        if base.status in RECOMPUTABLE:
            settlement = self._settlement(state, base.settlement_id, lines, run, now, base)
            self.store.replace(settlement)
            return RunOutcome(state.period, settlement=settlement, changed=True)

        # The base is frozen: only what differs from every frozen figure may still change.
        adjustments = self._adjustments(state.period)
        frozen = [base, *(item for item in adjustments if item.frozen)]
        open_adjustment = next((item for item in adjustments if not item.frozen), None)
        owed = difference(lines, [line for item in frozen for line in item.lines])
        probe = build_checks(state.findings, figures_of(owed, state.currency).net_positions)
        if not owed and all(check.ok for check in probe) and open_adjustment is None:
            return RunOutcome(state.period, settlement=adjustments[-1] if adjustments else base)
        if open_adjustment is not None:
            settlement = self._settlement(
                state, open_adjustment.settlement_id, owed, run, now, open_adjustment
            )
            self.store.replace(settlement)
        else:
            settlement = self._settlement(
                state,
                adjustment_id_for(state.period, len(adjustments) + 1),
                owed,
                run,
                now,
                None,
                adjusts=base.settlement_id,
            )
            self.store.create(settlement)
        return RunOutcome(state.period, settlement=settlement, changed=True)

    def _adjustments(self, period: Period) -> list[Settlement]:
        found: list[Settlement] = []
        while (adjustment := self.store.get(adjustment_id_for(period, len(found) + 1))) is not None:
            found.append(adjustment)
        return found

    def _settlement(
        self,
        state: RunState,
        settlement_id: str,
        lines: list[SettlementLine],
        run: RunSummary,
        now: datetime,
        previous: Settlement | None,
        adjusts: str | None = None,
    ) -> Settlement:
        figures = figures_of(lines, state.currency)
        checks = build_checks(state.findings, figures.net_positions)
        status = (
            SettlementStatus.DRAFT
            if all(check.ok for check in checks)
            else SettlementStatus.NEEDS_REVIEW
        )
        entry = run_entry(
            previous.status if previous else None, status, state.actor, now, state.reason
        )
        adjusts = adjusts or (previous.adjusts if previous else None)
        return Settlement(
            settlement_id=settlement_id,
            kind=SettlementKind.ADJUSTMENT if adjusts else SettlementKind.SETTLEMENT,
            adjusts=adjusts,
            period_start=state.period.period_start,
            period_end=state.period.period_end,
            currency=state.currency,
            status=status,
            version=previous.version + 1 if previous else 1,
            lines=figures.lines,
            bilateral=figures.bilateral,
            net_positions=figures.net_positions,
            rounding=figures.rounding,
            checks=checks,
            audit=[*(previous.audit if previous else []), entry],
            run=run,
            created_at=previous.created_at if previous else now,
            updated_at=now,
            provisional=provisional_at(state.period.period_end, state.started_at),
        )

    def _observe(self, settlement: Settlement) -> None:
        failed = settlement.checks_failed
        if failed:
            logger.warning(
                "settlement needs review",
                extra={
                    "settlement_id": settlement.settlement_id,
                    "failed_checks": [check.name for check in failed],
                },
            )
            self.metrics.add_metadata(key="settlement_id", value=settlement.settlement_id)
        self.metrics.add_metric(
            name="SettlementChecksFailed", unit=MetricUnit.Count, value=len(failed)
        )

    def _announce(self, settlement: Settlement) -> None:
        if self.announce is None:
            return
        try:
            self.announce(settlement)
        except PointsNetError:
            # The settlement stands without its notice; finance sees it either way.
            logger.warning(
                "settlement.ready was not published",
                extra={"settlement_id": settlement.settlement_id},
            )

    def _epoch(self, ahead: timedelta = timedelta(0)) -> int:
        return int((self.clock() + ahead).timestamp())


def reconcile_period(
    period_start: date,
    period_end: date,
    *,
    reconciler: Reconciler,
    actor: Actor = SCHEDULER,
    reason: str | None = None,
) -> RunOutcome:
    """Reconcile the UTC days `period_start`..`period_end` (both included), in this process."""
    period = Period(period_start=period_start, period_end=period_end)
    return reconciler.reconcile(period, actor=actor, reason=reason)


def previous_days(today: date, days: int) -> Period:
    """The `days` whole UTC days that end yesterday."""
    end = today - timedelta(days=1)
    return Period(period_start=end - timedelta(days=days - 1), period_end=end)


def utc_today(clock: Callable[[], datetime] = utc_now) -> date:
    return clock().astimezone(UTC).date()
