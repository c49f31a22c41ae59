"""The reconciliation function's steps, as the state machine (or the local runtime) asks them.

- `plan`: the run's record and its items. The input is the schedule's (`period_days` ending
  yesterday) or a run started through the API (`run_id`, `period_start`, `period_end`);
- `check`: one item, a journal shard of one day;
- `settle`: add up the tallies and write the settlement;
- `audit`: the weekly full audit of the table against the journal (`audit`), its own schedule.

An event with no step (a direct invocation, as `sam local invoke` makes) runs all three here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ConfigDict, Field

from pointsnet.errors import PointsNetError
from pointsnet.model import Model
from pointsnet.observability import logger
from pointsnet.settlement.audit import AuditReport, FullAudit
from pointsnet.settlement.models import MAX_PERIOD_DAYS, SCHEDULER, Actor, IsoDate, Period
from pointsnet.settlement.run import Reconciler, previous_days, utc_today
from pointsnet.settlement.run_state import RunItem, RunOutcome


class RunRequest(Model):
    """What starts a run: `period_days` ending yesterday, or an explicit period."""

    model_config = ConfigDict(extra="ignore")

    period_days: int = Field(default=1, ge=1, le=MAX_PERIOD_DAYS)
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None
    run_id: str | None = Field(default=None, pattern=r"^run_[0-9a-z]{1,64}$")
    actor: Actor = SCHEDULER
    reason: str | None = None

    def period(self, clock: Callable[[], datetime]) -> Period:
        if self.period_start is not None and self.period_end is not None:
            return Period(period_start=self.period_start, period_end=self.period_end)
        return previous_days(utc_today(clock), self.period_days)


class PlanStep(Model):
    step: Literal["plan"]
    run: RunRequest = Field(default_factory=RunRequest)
    execution: str | None = None


class CheckStep(Model):
    step: Literal["check"]
    run_id: str
    item: RunItem


class SettleStep(Model):
    step: Literal["settle"]
    run_id: str


def run_step(
    event: Mapping[str, Any],
    reconciler: Reconciler,
    audit: Callable[[], FullAudit] | None = None,
) -> dict[str, Any]:
    step = event.get("step")
    if step == "audit":
        assert audit is not None, "the audit step needs an audit"
        return _audited(audit().run(), reconciler)
    if step == "plan":
        plan = PlanStep.model_validate(dict(event))
        period = plan.run.period(reconciler.clock)
        run_id = plan.run.run_id or (_run_id(plan.execution) if plan.execution else None)
        record = reconciler.plan(
            period,
            actor=plan.run.actor,
            reason=plan.run.reason or f"scheduled reconciliation of {period.label}",
            run_id=run_id,
        )
        return {
            "run_id": record.run_id,
            "items": [item.model_dump(mode="json") for item in reconciler.items(record)],
        }
    if step == "check":
        check = CheckStep.model_validate(dict(event))
        tallies = reconciler.check(check.run_id, check.item)
        # Small on purpose: a Distributed Map keeps every child's answer in its history.
        return {
            "day": check.item.day.isoformat(),
            "shard": check.item.shard,
            "days": check.item.days,
            "entries": sum(tally.transactions for tally in tallies),
        }
    if step == "settle":
        settle = SettleStep.model_validate(dict(event))
        try:
            return _answer(reconciler.settle(settle.run_id))
        except PointsNetError:
            reconciler.fail(settle.run_id, "settle step failed")
            raise
    run = RunRequest.model_validate(dict(event))
    period = run.period(reconciler.clock)
    return _answer(
        reconciler.reconcile(
            period, actor=run.actor, reason=run.reason or f"reconciliation of {period.label}"
        )
    )


def _audited(report: AuditReport, reconciler: Reconciler) -> dict[str, Any]:
    key = f"audits/{report.audited_at.date().isoformat()}/audit.json"
    reconciler.reports.put(key, report.model_dump_json(indent=2).encode(), "application/json")
    reconciler.metrics.add_metric(
        name="AuditFindings", unit=MetricUnit.Count, value=report.offending
    )
    if not report.ok:
        logger.warning(
            "the full audit found differences",
            extra={"offending": report.offending, "report": key},
        )
    return {
        "ok": report.ok,
        "offending": report.offending,
        "entries": report.entries,
        "report": key,
    }


def _run_id(execution: str) -> str:
    """A run's id from its execution's name (Step Functions names may hold `-` and `_`)."""
    return "run_" + "".join(char for char in execution.lower() if char.isalnum())[:64]


def _answer(outcome: RunOutcome) -> dict[str, Any]:
    assert outcome.settlement is not None
    logger.info(
        "reconciliation settled",
        extra={
            "settlement_id": outcome.settlement.settlement_id,
            "status": outcome.settlement.status.value,
        },
    )
    return {
        "period": outcome.period.label,
        "complete": True,
        "changed": outcome.changed,
        "settlement_id": outcome.settlement.settlement_id,
        "status": outcome.settlement.status.value,
    }
