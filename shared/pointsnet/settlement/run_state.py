"""A reconciliation run's record, what its settle step adds up, and what a request for it answers.

A run is planned (its record written and its period claimed), checked one journal shard of one
day at a time (each check keeps a `ShardTally`), and settled (the tallies added up into a
`RunState`, from which the settlement is written). The record says where it stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from pointsnet.clock import UtcTime
from pointsnet.ledger.models import Obligation
from pointsnet.model import Model
from pointsnet.settlement.arithmetic import LineTotals
from pointsnet.settlement.checks import CheckName, Findings, new_findings
from pointsnet.settlement.models import Actor, Period, Settlement


class ShardCounts(Model):
    """What a check counts as it reads; a run's counts are its shards' added up."""

    transactions: int = 0
    cross_partner_transactions: int = 0
    obligations: int = 0
    accounts_checked: int = 0
    unjournaled_obligations: int = 0
    journal_objects: int = 0
    journal_bytes: int = 0
    # Obligations summed into the lines, each recorded in the shard's day's detail object.
    detail_rows: int = 0

    def add(self, other: ShardCounts) -> None:
        for name in ShardCounts.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class ShardTally(ShardCounts):
    """What one shard's day adds to its run."""

    day: date
    shard: int
    findings: dict[CheckName, Findings] = Field(default_factory=new_findings)
    totals: LineTotals = Field(default_factory=LineTotals)
    # The obligations summed into `totals`, for the run's detail object; never stored here.
    summed: list[Obligation] = Field(default_factory=list, exclude=True)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunItem(Model):
    """One check of a run (an item of the Distributed Map): a journal shard of one day, or of
    `days` days from `day` in a period too long for an item per day."""

    day: date
    shard: int
    days: int = Field(default=1, ge=1)


class RunRecord(Model):
    """A run, as `GET /v1/settlement-runs/{run_id}` shows it."""

    run_id: str
    settlement_id: str
    period: Period
    currency: str
    actor: Actor
    reason: str
    started_at: UtcTime
    status: RunStatus = RunStatus.RUNNING
    items: int = Field(description="Checks in the run: one per journal shard and day")
    finished_at: UtcTime | None = None
    settled: str | None = Field(
        default=None, description="The settlement (or adjustment) the run wrote or found"
    )
    error: str | None = None


class RunTallies(ShardCounts):
    invocations: int = 0  # shard checks: one Lambda each on AWS
    pages: int = 0
    detail_parts: int = 0  # shard days with obligations: one detail object each


class RunState(Model):
    """Everything a run learned, added up from its shards' tallies."""

    run_id: str
    settlement_id: str
    period: Period
    currency: str
    actor: Actor
    reason: str
    started_at: UtcTime
    tallies: RunTallies = Field(default_factory=RunTallies)
    findings: dict[CheckName, Findings] = Field(default_factory=new_findings)
    totals: LineTotals = Field(default_factory=LineTotals)

    @model_validator(mode="after")
    def _every_check(self) -> RunState:
        for name in CheckName:
            self.findings.setdefault(name, Findings())
        return self

    @classmethod
    def of(cls, record: RunRecord, tallies: Iterable[ShardTally]) -> RunState:
        state = cls(
            run_id=record.run_id,
            settlement_id=record.settlement_id,
            period=record.period,
            currency=record.currency,
            actor=record.actor,
            reason=record.reason,
            started_at=record.started_at,
        )
        # Shards in a stable order, so the details each check keeps are the same every run.
        for tally in sorted(tallies, key=lambda item: (item.day, item.shard)):
            state.tallies.invocations += 1
            state.tallies.pages += tally.journal_objects
            state.tallies.detail_parts += 1 if tally.detail_rows else 0
            state.tallies.add(tally)
            for name, found in tally.findings.items():
                state.findings[name].merge(found)
            state.totals.merge(tally.totals)
        return state


class RunProgress(Model):
    """Where an unfinished run stands (the body of a `202`)."""

    run_id: str
    settlement_id: str
    period_start: date
    period_end: date
    status: RunStatus
    started_at: UtcTime
    items: int

    @classmethod
    def of(cls, record: RunRecord) -> RunProgress:
        return cls(
            run_id=record.run_id,
            settlement_id=record.settlement_id,
            period_start=record.period.period_start,
            period_end=record.period.period_end,
            status=record.status,
            started_at=record.started_at,
            items=record.items,
        )


@dataclass(frozen=True)
class RunOutcome:
    """A finished run carries its settlement; an unfinished one only its progress."""

    period: Period
    progress: RunProgress | None = None
    settlement: Settlement | None = None
    changed: bool = False

    @property
    def complete(self) -> bool:
        return self.settlement is not None
