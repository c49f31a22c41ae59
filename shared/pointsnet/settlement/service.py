"""What finance and operators do with settlements: read, report, approve, dispute, pay, run.

Every POST is idempotent: its first answer is recorded under the caller's Idempotency-Key
(in the same write as the transition it made), and a repeat answers it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pointsnet.auth.caller import Caller
from pointsnet.clock import rfc3339, utc_now
from pointsnet.errors import Conflict, IdempotencyKeyReused, NotFound, PointsNetError
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.observability import logger
from pointsnet.settlement.commands import (
    ApproveSettlement,
    DisputeSettlement,
    MarkSettlementPaid,
)
from pointsnet.settlement.models import (
    Actor,
    Settlement,
    SettlementStatus,
    SettlementSummary,
)
from pointsnet.settlement.ports import RecordedResponse, RequestRecorded, SettlementMoved
from pointsnet.settlement.reports import CONTENT_TYPES, ReportFormat, publish, render, report_key
from pointsnet.settlement.workflow import Action, transition

if TYPE_CHECKING:
    from pointsnet.settlement.ports import ReportStore, SettlementPort

# The contract keeps a POST's first answer for 24 hours.
REQUEST_RETENTION = timedelta(hours=24)
MOVED_RETRIES = 3


@dataclass(frozen=True)
class Answer:
    """A POST's answer: status and JSON body, and whether it repeats a recorded one."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class Report:
    report_format: ReportFormat
    content_type: str
    body: str
    filename: str


class Settlements:
    def __init__(
        self,
        store: SettlementPort,
        reports: ReportStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.reports = reports
        self.clock = clock

    # reads

    def summaries(
        self,
        status: SettlementStatus | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
    ) -> list[SettlementSummary]:
        return self.store.summaries(status, period_start, period_end)

    def get(self, settlement_id: str) -> Settlement:
        settlement = self.store.get(settlement_id)
        if settlement is None:
            raise NotFound(f"no settlement {settlement_id}")
        return settlement

    def report(self, settlement_id: str, report_format: ReportFormat) -> Report:
        """The stored report of the settlement's current version, rendered again if missing."""
        settlement = self.get(settlement_id)
        key = report_key(settlement_id, settlement.version, report_format)
        try:
            stored = self.reports.get(key)
        except PointsNetError:
            # The stored report is a copy: the settlement renders the same one again.
            logger.exception("report not read", extra={"settlement_id": settlement_id})
            stored = None
        if stored is not None:
            body = stored.decode("utf-8")
        else:
            body = render(settlement, report_format)
            try:
                self.reports.put(key, body.encode("utf-8"), CONTENT_TYPES[report_format])
            except PointsNetError:
                logger.exception("report not stored", extra={"settlement_id": settlement_id})
        return Report(
            report_format=report_format,
            content_type=CONTENT_TYPES[report_format],
            body=body,
            filename=f"{settlement_id}-v{settlement.version}.{report_format.value}",
        )

    # the workflow

    def approve(
        self,
        caller: Caller,
        settlement_id: str,
        command: ApproveSettlement,
        request: IdempotentRequest,
    ) -> Answer:
        return self._transition(caller, settlement_id, Action.APPROVE, request, command.reason)

    def dispute(
        self,
        caller: Caller,
        settlement_id: str,
        command: DisputeSettlement,
        request: IdempotentRequest,
    ) -> Answer:
        return self._transition(caller, settlement_id, Action.DISPUTE, request, command.reason)

    def mark_paid(
        self,
        caller: Caller,
        settlement_id: str,
        command: MarkSettlementPaid,
        request: IdempotentRequest,
    ) -> Answer:
        return self._transition(
            caller,
            settlement_id,
            Action.MARK_PAID,
            request,
            command.reason,
            payment_reference=command.payment_reference,
        )

    def _transition(
        self,
        caller: Caller,
        settlement_id: str,
        action: Action,
        request: IdempotentRequest,
        reason: str | None,
        payment_reference: str | None = None,
    ) -> Answer:
        request_id = request_id_for(caller, request)
        if (recorded := self.store.get_request(request_id)) is not None:
            return replay(recorded, request)
        actor = Actor(partner_id=caller.partner_id, key_id=caller.key_id)
        for _ in range(MOVED_RETRIES):
            now = self.clock()
            try:
                updated = transition(
                    self.get(settlement_id),
                    action,
                    actor,
                    now,
                    reason=reason,
                    payment_reference=payment_reference,
                )
            except Conflict:
                # The same request may have just made this very transition.
                if (recorded := self.store.get_request(request_id)) is not None:
                    return replay(recorded, request)
                raise
            body = updated.model_dump(mode="json")
            try:
                self.store.replace_recording(updated, record(request_id, request, 201, body, now))
            except RequestRecorded as first:
                return replay(first.existing, request)
            except SettlementMoved:
                continue
            publish(self.reports, updated)
            return Answer(201, body)
        raise Conflict(f"settlement {settlement_id} is changing; retry with the same key")


def request_id_for(caller: Caller, request: IdempotentRequest) -> str:
    return derived_id("req_", caller.partner_id, request.key)


def record(
    request_id: str, request: IdempotentRequest, status: int, body: dict[str, Any], now: datetime
) -> RecordedResponse:
    return RecordedResponse(
        request_id=request_id,
        fingerprint=request.fingerprint,
        status=status,
        body=json.dumps(body, separators=(",", ":")),
        created_at=rfc3339(now),
        expires_at=int((now + REQUEST_RETENTION).timestamp()),
    )


def replay(recorded: RecordedResponse, request: IdempotentRequest) -> Answer:
    if recorded.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
    return Answer(recorded.status, json.loads(recorded.body), replayed=True)
