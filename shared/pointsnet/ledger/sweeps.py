"""The scheduled sweeps: what time alone makes due on the ledger.

- `holds` voids every hold left open past its timeout;
- `points` expires every lapsed lot, records the `points.expiring` notice of every lot
  nearing its expiry, and reviews every balance whose review is due (an inactive balance
  lapsing or nearing its lapse, a tier falling as months leave the window).

A sweep finds its work in the `ByDue` index as of `now`, however late it runs; what it
cannot finish (time running out, an item failing) stays due for the next run. Each action
is idempotent, so overlapping runs are harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict

from pointsnet.clock import UtcTime
from pointsnet.errors import PointsNetError
from pointsnet.ledger.lots import lot_expires_at
from pointsnet.ledger.port import DueItem, LedgerPort
from pointsnet.ledger.upkeep import NothingToDo, Upkeep
from pointsnet.model import Model
from pointsnet.observability import logger


class SweepJob(StrEnum):
    HOLDS = "holds"
    POINTS = "points"
    ALL = "all"


class SweepReport(Model):
    job: SweepJob
    swept_at: UtcTime
    holds_voided: int = 0
    lots_expired: int = 0
    lots_noticed: int = 0
    accounts_reviewed: int = 0
    skipped: int = 0
    failed: int = 0
    finished: bool = True


class Sweeper:
    def __init__(self, upkeep: Upkeep, store: LedgerPort) -> None:
        self.upkeep = upkeep
        self.store = store

    def run(
        self,
        job: SweepJob,
        now: datetime,
        out_of_time: Callable[[], bool] = lambda: False,
    ) -> SweepReport:
        report = SweepReport(job=job, swept_at=now)
        kinds = {
            SweepJob.HOLDS: ("hold",),
            SweepJob.POINTS: ("lot", "review"),
            SweepJob.ALL: ("hold", "lot", "review"),
        }[job]
        for kind in kinds:
            for due in self.store.due(kind, now):
                if out_of_time():
                    report.finished = False
                    return report
                self._handle(due, now, report)
        return report

    def _handle(self, due: DueItem, now: datetime, report: SweepReport) -> None:
        try:
            if due.kind == "hold":
                self.upkeep.void_lapsed_hold(due.transaction_id, now)
                report.holds_voided += 1
            elif due.kind == "lot" and lot_expires_at(due.lot_id) <= now:
                self.upkeep.expire_lot(due.account, due.lot_id, now)
                report.lots_expired += 1
            elif due.kind == "lot":
                self.upkeep.notice_lot(due.account, due.lot_id, now)
                report.lots_noticed += 1
            elif self.upkeep.review_account(due.account, now):
                report.accounts_reviewed += 1
            else:
                report.skipped += 1
        except NothingToDo:
            report.skipped += 1
        except PointsNetError as error:
            # Left due: the next run tries again.
            logger.warning(
                "sweep item failed", extra={"kind": due.kind, "pk": due.pk, "code": error.code}
            )
            report.failed += 1
        except Exception:
            logger.exception("sweep item failed", extra={"kind": due.kind, "pk": due.pk})
            report.failed += 1


class SweepRequest(Model):
    """A sweep's invocation: EventBridge Scheduler passes its scheduled time, so a late or
    repeated run still sweeps as of the moment it was scheduled for."""

    model_config = ConfigDict(extra="ignore")

    job: SweepJob = SweepJob.ALL
    scheduled_time: datetime | None = None
