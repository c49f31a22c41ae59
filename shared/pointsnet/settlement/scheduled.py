"""The scheduled reconciliation: the previous UTC day(s), carried over invocations if need be."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from pointsnet.errors import RequestInProgress
from pointsnet.observability import logger
from pointsnet.settlement.budget import Budget
from pointsnet.settlement.models import MAX_PERIOD_DAYS, SCHEDULER, IsoDate, Period
from pointsnet.settlement.ports import Continuation
from pointsnet.settlement.run import Reconciler, previous_days, utc_today

# A run that still needs more invocations after this many has something wrong with it.
MAX_CONTINUATIONS = 100


class ScheduledRun(BaseModel):
    """The schedule's input: `period_days` ending yesterday, or an explicit period."""

    model_config = ConfigDict(extra="ignore")

    period_days: int = Field(default=1, ge=1, le=MAX_PERIOD_DAYS)
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None
    continuation: int = Field(default=0, ge=0, description="Invocations this run has had before")

    def period(self, clock: Callable[[], datetime]) -> Period:
        if self.period_start is not None and self.period_end is not None:
            return Period(period_start=self.period_start, period_end=self.period_end)
        return previous_days(utc_today(clock), self.period_days)


def run_scheduled(
    event: Mapping[str, Any],
    remaining_ms: Callable[[], int],
    reconciler: Reconciler,
    continue_run: Continuation | None,
) -> dict[str, Any]:
    """Reconcile the event's period; hand what is left to `continue_run` before time runs out."""
    scheduled = ScheduledRun.model_validate(dict(event))
    period = scheduled.period(reconciler.clock)
    try:
        outcome = reconciler.reconcile(
            period,
            budget=Budget(remaining_ms=remaining_ms),
            actor=SCHEDULER,
            reason=f"scheduled reconciliation of {period.label}",
        )
    except RequestInProgress:
        logger.info("another invocation is running this period", extra={"period": period.label})
        return {"period": period.label, "complete": False, "skipped": True}
    if outcome.settlement is not None:
        return {
            "period": period.label,
            "complete": True,
            "changed": outcome.changed,
            "settlement_id": outcome.settlement.settlement_id,
            "status": outcome.settlement.status.value,
        }
    assert outcome.progress is not None
    progress = outcome.progress.model_dump(mode="json")
    following = {
        "period_start": period.period_start.isoformat(),
        "period_end": period.period_end.isoformat(),
        "continuation": scheduled.continuation + 1,
    }
    if continue_run is None or scheduled.continuation >= MAX_CONTINUATIONS:
        # The checkpoint stays: a run of the same period (schedule or API) resumes it.
        logger.error("reconciliation left unfinished", extra={"progress": progress})
        # SettlementRunFailedAlarm (template.yaml) watches it with the function's errors.
        reconciler.metrics.add_metric(
            name="SettlementRunsUnfinished", unit=MetricUnit.Count, value=1
        )
    else:
        continue_run(following)
    return {"period": period.label, "complete": False, "progress": progress}
