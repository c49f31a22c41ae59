"""Runs started through the API (`POST /v1/settlement-runs`), and what they answer.

A run is planned here, then checked and settled by the state machine where one is configured
(`RECONCILIATION_STATE_MACHINE`), else in this process. The request waits for it while it has
time: `201` with the settlement when the run finishes in time, `202` with the run (its
`run_id`; `GET /v1/settlement-runs/{run_id}` follows it) when it does not. The same request
again (same Idempotency-Key) answers the run as it stands: `202` while it runs, then `201`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pointsnet.auth.caller import Caller
from pointsnet.idempotency import IdempotentRequest
from pointsnet.settlement.commands import StartSettlementRun
from pointsnet.settlement.models import Actor, Period
from pointsnet.settlement.ports import RequestRecorded
from pointsnet.settlement.run_state import RunOutcome, RunRecord, RunStatus
from pointsnet.settlement.service import Answer, record, replay, request_id_for

if TYPE_CHECKING:
    from pointsnet.settlement.ports import SettlementPort
    from pointsnet.settlement.run import Reconciler

# Starts a planned run's checks and settle step elsewhere: (run_id, the state machine's input).
RunStarter = Callable[[str, dict[str, Any]], None]
# Time a request keeps back from its remaining time to answer.
RESERVE_MS = 2500
# The longest a request waits for its run: under the SDK's 10 s timeout, so the answer (201, or
# 202 to follow) reaches a client that keeps the defaults.
WAIT_SECONDS = 8.0
POLL_SECONDS = 0.25


class SettlementRuns:
    def __init__(
        self,
        reconciler: Reconciler,
        store: SettlementPort,
        *,
        starter: RunStarter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reconciler = reconciler
        self.store = store
        self.starter = starter
        self.sleep = sleep
        self.monotonic = monotonic

    def start(
        self,
        caller: Caller,
        command: StartSettlementRun,
        request: IdempotentRequest,
        remaining_ms: Callable[[], int] | None,
    ) -> Answer:
        request_id = request_id_for(caller, request)
        if (recorded := self.store.get_request(request_id)) is not None:
            answer = replay(recorded, request)
            if answer.status != 202:
                return answer
            return self._answer(self.reconciler.progress(answer.body["run_id"]), replayed=True)
        period = Period(period_start=command.period_start, period_end=command.period_end)
        actor = Actor(partner_id=caller.partner_id, key_id=caller.key_id)
        reason = command.reason or f"run of {period.label} requested through the API"
        if self.starter is None:
            outcome = self.reconciler.reconcile(period, actor=actor, reason=reason)
        else:
            planned = self.reconciler.plan(period, actor=actor, reason=reason)
            try:
                self.starter(planned.run_id, _machine_input(planned))
            except Exception as exc:
                # Not started: the period is free again for the next request.
                self.reconciler.fail(planned.run_id, exc)
                raise
            outcome = self._wait(planned.run_id, remaining_ms)
        answer = self._answer(outcome)
        try:
            self.store.record_request(
                record(request_id, request, answer.status, answer.body, self.reconciler.clock())
            )
        except RequestRecorded as first:
            return replay(first.existing, request)
        return answer

    def get(self, run_id: str) -> RunRecord:
        return self.reconciler.run_record(run_id)

    def _wait(self, run_id: str, remaining_ms: Callable[[], int] | None) -> RunOutcome:
        budget = (remaining_ms() - RESERVE_MS) / 1000 if remaining_ms else WAIT_SECONDS
        deadline = self.monotonic() + min(budget, WAIT_SECONDS)
        while True:
            outcome = self.reconciler.progress(run_id)
            failed = outcome.progress is not None and outcome.progress.status == RunStatus.FAILED
            if outcome.complete or failed or self.monotonic() >= deadline:
                return outcome
            self.sleep(POLL_SECONDS)

    @staticmethod
    def _answer(outcome: RunOutcome, replayed: bool = False) -> Answer:
        if outcome.settlement is not None:
            return Answer(201, outcome.settlement.model_dump(mode="json"), replayed=replayed)
        assert outcome.progress is not None
        return Answer(202, outcome.progress.model_dump(mode="json"), replayed=replayed)


def _machine_input(planned: RunRecord) -> dict[str, Any]:
    return {
        "run_id": planned.run_id,
        "period_start": planned.period.period_start.isoformat(),
        "period_end": planned.period.period_end.isoformat(),
        "actor": planned.actor.model_dump(mode="json"),
        "reason": planned.reason,
    }
