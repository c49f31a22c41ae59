"""A reconciliation run's checkpoint, and what an invocation of it answers.

The state is saved (as JSON) after every page, so the next invocation resumes where this one
stopped; an unfinished run answers its progress, a finished one its settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from pointsnet.clock import UtcTime
from pointsnet.settlement.arithmetic import LineTotals
from pointsnet.settlement.checks import CheckName, Findings, new_findings
from pointsnet.settlement.models import Actor, Period, Settlement


class RunPhase(StrEnum):
    ENTRIES = "entries"
    OBLIGATIONS = "obligations"
    ACCOUNTS = "accounts"


class RunTallies(BaseModel):
    pages: int = 0
    invocations: int = 0
    transactions: int = 0
    cross_partner_transactions: int = 0
    obligations: int = 0
    accounts_checked: int = 0


class RunState(BaseModel):
    """Everything a run has learned so far: its checkpoint."""

    run_id: str
    settlement_id: str
    period: Period
    currency: str
    actor: Actor
    reason: str
    phase: RunPhase = RunPhase.ENTRIES
    cursor: str | None = None
    started_at: UtcTime
    tallies: RunTallies = Field(default_factory=RunTallies)
    findings: dict[CheckName, Findings] = Field(default_factory=new_findings)
    totals: LineTotals = Field(default_factory=LineTotals)

    @model_validator(mode="after")
    def _every_check(self) -> RunState:
        # A checkpoint saved before a check existed resumes with that check empty.
        for name in CheckName:
            self.findings.setdefault(name, Findings())
        return self


class RunProgress(BaseModel):
    """Where an unfinished run stands; the next invocation (or request) carries on from here."""

    settlement_id: str
    period_start: date
    period_end: date
    run_id: str
    phase: RunPhase
    started_at: UtcTime
    pages: int
    invocations: int
    transactions: int
    obligations: int
    accounts_checked: int

    @classmethod
    def of(cls, state: RunState) -> RunProgress:
        return cls(
            settlement_id=state.settlement_id,
            period_start=state.period.period_start,
            period_end=state.period.period_end,
            run_id=state.run_id,
            phase=state.phase,
            started_at=state.started_at,
            pages=state.tallies.pages,
            invocations=state.tallies.invocations,
            transactions=state.tallies.transactions,
            obligations=state.tallies.obligations,
            accounts_checked=state.tallies.accounts_checked,
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
