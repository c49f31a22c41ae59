"""A reconciliation run: read a period, check the ledger, and settle what partners owe.

A run reads in pages and keeps its progress in a checkpoint, so memory does not grow
with the ledger and a run that cannot finish in one invocation resumes in the next:

1. entries: the period's transactions (balanced? cross-partner ones with their
   obligation?) and any negative balance; touched member accounts are written to the
   store, not kept in memory;
2. obligations: the period's obligations, summed into lines (each with its transaction?);
3. accounts: each touched account's stored balance against the sum of all its entries;
4. finish: round, net, record the checks and write the settlement and its reports.

The settlement of a period has one id. While it is not approved a run replaces it; once
approved it never changes, and a run that finds a difference writes an adjustment.
The checkpoint is `run_state`'s, what each page adds to it `period_reading`'s, and when an
invocation stops `budget`'s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from pointsnet.clock import utc_now
from pointsnet.errors import Conflict, PointsNetError, RequestInProgress, ValidationFailed
from pointsnet.observability import logger, metrics
from pointsnet.settlement.arithmetic import difference, figures_of, settle_lines
from pointsnet.settlement.budget import Budget
from pointsnet.settlement.checks import build_checks
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
    settlement_id_for,
)
from pointsnet.settlement.period_reading import check_accounts, read_entries, read_obligations
from pointsnet.settlement.ports import RunBusy, SettlementMoved
from pointsnet.settlement.reports import publish
from pointsnet.settlement.run_state import RunOutcome, RunPhase, RunProgress, RunState
from pointsnet.settlement.workflow import RECOMPUTABLE, run_entry

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from pointsnet.settlement.ports import LedgerPeriodPort, ReportStore, SettlementPort

DEFAULT_PAGE_SIZE = 1000
ACCOUNT_PAGE_SIZE = 100
# A checkpoint this old is read afresh rather than resumed: the ledger has moved on.
STALE_RUN = timedelta(hours=12)


class Reconciler:
    def __init__(
        self,
        store: SettlementPort,
        reader: LedgerPeriodPort,
        reports: ReportStore,
        currency: str = "USD",
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        run_metrics: Metrics = metrics,
        announce: Callable[[Settlement], None] | None = None,
    ) -> None:
        self.store = store
        self.reader = reader
        self.reports = reports
        self.currency = currency
        self.page_size = page_size
        self.clock = clock
        self.sleep = sleep
        self.metrics = run_metrics
        # Tells partners a settlement is ready for review (`settlement.ready`); None: silent.
        self.announce = announce

    def reconcile(
        self,
        period: Period,
        *,
        budget: Budget | None = None,
        actor: Actor = SCHEDULER,
        reason: str | None = None,
    ) -> RunOutcome:
        """Run (or resume) the period's reconciliation until it finishes or the budget ends.

        Raises Conflict when another period overlaps this one, RequestInProgress while
        another invocation is running this period.
        """
        budget = budget or Budget()
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
        owner = uuid.uuid4().hex
        try:
            saved = self.store.claim_run(
                settlement_id, owner, self._epoch(), self._epoch(budget.lease())
            )
        except RunBusy as exc:
            raise RequestInProgress(
                f"a run of {period.label} is in progress; retry in a moment"
            ) from exc
        state = RunState.model_validate_json(saved) if saved else None
        if state is None or self.clock() - state.started_at > STALE_RUN:
            state = RunState(
                run_id="run_" + uuid.uuid4().hex,
                settlement_id=settlement_id,
                period=period,
                currency=self.currency,
                actor=actor,
                reason=reason or f"reconciliation of {period.label}",
                started_at=self.clock(),
            )
        state.tallies.invocations += 1
        logger.info(
            "reconciliation run",
            extra={"settlement_id": settlement_id, "run_id": state.run_id, "phase": state.phase},
        )
        try:
            while not budget.exhausted():
                if not self._step(state):
                    outcome = self._finish(state)
                    self.store.end_run(settlement_id, owner)
                    return outcome
                budget.spend()
                self.store.save_run(
                    settlement_id, owner, state.model_dump_json(), self._epoch(budget.lease())
                )
            # A lease that ended at 0 lets the next invocation take the run over at once.
            self.store.save_run(settlement_id, owner, state.model_dump_json(), 0)
        except RunBusy as exc:
            raise RequestInProgress(f"the run of {period.label} was taken over") from exc
        except Exception:
            # The last checkpoint stays as it was; only the period is freed for a retry.
            self.store.release_run(settlement_id, owner)
            raise
        return RunOutcome(period=period, progress=RunProgress.of(state))

    # reading, one page a step

    def _step(self, state: RunState) -> bool:
        """Read one page of the current phase; False when every phase is done."""
        state.tallies.pages += 1
        if state.phase == RunPhase.ENTRIES:
            entries = self.reader.entries_page(state.period, state.cursor, self.page_size)
            read_entries(state, entries.items, self.reader, self.store, self.clock)
            self._advance(state, entries.cursor, RunPhase.OBLIGATIONS)
            return True
        if state.phase == RunPhase.OBLIGATIONS:
            obligations = self.reader.obligations_page(state.period, state.cursor, self.page_size)
            read_obligations(state, obligations.items, self.reader)
            self._advance(state, obligations.cursor, RunPhase.ACCOUNTS)
            return True
        accounts = self.store.touched_accounts(state.run_id, state.cursor, ACCOUNT_PAGE_SIZE)
        check_accounts(state, accounts.items, self.reader, self.sleep)
        state.cursor = accounts.cursor
        return accounts.cursor is not None

    @staticmethod
    def _advance(state: RunState, cursor: str | None, following: RunPhase) -> None:
        state.cursor = cursor
        if cursor is None:
            state.phase = following

    # finishing

    def _finish(self, state: RunState) -> RunOutcome:
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
        )
        for _ in range(3):
            try:
                outcome = self._write(state, lines, run, now)
            except SettlementMoved:
                continue  # approved or re-run meanwhile: decide again from what is stored
            if outcome.changed and outcome.settlement is not None:
                publish(self.reports, outcome.settlement)
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
    max_pages: int | None = None,
    remaining_ms: Callable[[], int] | None = None,
    actor: Actor = SCHEDULER,
    reason: str | None = None,
) -> RunOutcome:
    """Reconcile the UTC days `period_start`..`period_end` (both included).

    With no budget the run goes to the end in this call; with `max_pages` or `remaining_ms`
    it may stop early with `outcome.complete` False, and the next call resumes it.
    `reconciler` is the one to run (the composition root builds the environment's).
    """
    period = Period(period_start=period_start, period_end=period_end)
    return reconciler.reconcile(
        period,
        budget=Budget(max_pages=max_pages, remaining_ms=remaining_ms),
        actor=actor,
        reason=reason,
    )


def previous_days(today: date, days: int) -> Period:
    """The `days` whole UTC days that end yesterday."""
    end = today - timedelta(days=1)
    return Period(period_start=end - timedelta(days=days - 1), period_end=end)


def utc_today(clock: Callable[[], datetime] = utc_now) -> date:
    return clock().astimezone(UTC).date()
