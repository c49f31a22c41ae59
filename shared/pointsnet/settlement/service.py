"""What finance and operators do with settlements: read, report, approve, dispute, pay, run.

Every POST is idempotent: its first answer is recorded under the caller's Idempotency-Key
(in the same write as the transition it made), and a repeat answers it again.

A settlement is read with its links: an adjustment names the settlement it adjusts
(`adjusts`, stored), a settlement lists its adjustments (`adjustments`, found when read: a
frozen settlement is never written again to note one). Reports are rendered here, where the
partner directory's names are read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pointsnet.auth.caller import Caller
from pointsnet.clock import rfc3339, utc_now
from pointsnet.errors import (
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    PointsNetError,
    ValidationFailed,
)
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.observability import logger
from pointsnet.settlement.commands import (
    ApproveSettlement,
    DisputeSettlement,
    MarkSettlementPaid,
)
from pointsnet.settlement.line_detail import DetailStatus, LineDetail, line_detail
from pointsnet.settlement.models import (
    Actor,
    Settlement,
    SettlementKind,
    SettlementListItem,
    SettlementStatus,
    adjustment_id_for,
)
from pointsnet.settlement.ports import RecordedResponse, RequestRecorded, SettlementMoved
from pointsnet.settlement.report_view import SettlementReport, build_report
from pointsnet.settlement.reports import (
    CONTENT_TYPES,
    ReportDetail,
    ReportFormat,
    keep,
    publish,
    render,
    render_line_detail,
    report_key,
)
from pointsnet.settlement.workflow import Action, transition

if TYPE_CHECKING:
    from pointsnet.settlement.ports import PartnerNames, ReportStore, SettlementPort

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
        names: PartnerNames | None = None,
    ) -> None:
        self.store = store
        self.reports = reports
        self.clock = clock
        self.names: PartnerNames = names or (lambda _: None)

    # reads

    def summaries(
        self,
        status: SettlementStatus | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
    ) -> list[SettlementListItem]:
        """Each with its adjustments, which share its period: listed whatever their status."""
        every = self.store.summaries(None, period_start, period_end)
        adjusted: dict[str, list[str]] = {}
        for summary in every:
            if summary.adjusts:
                adjusted.setdefault(summary.adjusts, []).append(summary.settlement_id)
        return [
            SettlementListItem(
                **summary.model_dump(),
                adjustments=sorted(adjusted.get(summary.settlement_id, []), key=_order),
            )
            for summary in every
            if status is None or summary.status == status
        ]

    def get(self, settlement_id: str) -> Settlement:
        settlement = self.store.get(settlement_id)
        if settlement is None:
            raise NotFound(f"no settlement {settlement_id}")
        if settlement.kind != SettlementKind.SETTLEMENT:
            return settlement
        return settlement.model_copy(update={"adjustments": self._adjustment_ids(settlement)})

    def report(
        self,
        settlement_id: str,
        report_format: ReportFormat,
        detail: ReportDetail | None = None,
    ) -> Report:
        """The settlement's current version as a report, its copy in the bucket kept current.

        `detail=lines` (CSV only): the line detail, one row per obligation.
        """
        if detail is not None and report_format != ReportFormat.CSV:
            raise ValidationFailed(
                "detail=lines is a CSV",
                details=[{"field": "detail", "message": "only with format=csv"}],
            )
        settlement = self.get(settlement_id)
        report, lines = self.settlement_report(settlement)
        if detail == ReportDetail.LINES:
            if not lines.recorded:
                raise Conflict(
                    f"the obligation detail of {settlement_id} v{settlement.version} is "
                    f"{lines.status.value.replace('_', ' ')}: a new run of its period records it"
                )
            body = render_line_detail(report, lines)
            filename = f"{settlement_id}-v{settlement.version}-lines.csv"
        else:
            body = render(report, report_format)
            filename = f"{settlement_id}-v{settlement.version}.{report_format.value}"
        key = report_key(settlement_id, settlement.version, report_format, detail)
        keep(self.reports, key, body, CONTENT_TYPES[report_format])
        return Report(
            report_format=report_format,
            content_type=CONTENT_TYPES[report_format],
            body=body,
            filename=filename,
        )

    def settlement_report(self, settlement: Settlement) -> tuple[SettlementReport, LineDetail]:
        """The settlement with its partners' names and the obligations behind its lines."""
        try:
            lines = line_detail(self.reports, settlement, self._earlier(settlement))
        except PointsNetError:
            logger.exception(
                "obligation detail not read", extra={"settlement_id": settlement.settlement_id}
            )
            lines = LineDetail(DetailStatus.INCOMPLETE)
        partners = {line.payer for line in settlement.lines} | {
            line.payee for line in settlement.lines
        }
        partners |= {position.partner_id for position in settlement.net_positions}
        names = {partner_id: self.names(partner_id) for partner_id in sorted(partners)}
        return build_report(settlement, names, lines), lines

    def _adjustment_ids(self, settlement: Settlement) -> list[str]:
        found: list[str] = []
        while True:
            candidate = adjustment_id_for(settlement.period, len(found) + 1)
            if self.store.get(candidate) is None:
                return found
            found.append(candidate)

    def _earlier(self, settlement: Settlement) -> list[Settlement]:
        """For an adjustment: the frozen settlements of its period it was computed against."""
        if not settlement.adjusts:
            return []
        ids = [settlement.adjusts] + [
            adjustment_id_for(settlement.period, sequence)
            for sequence in range(1, _order(settlement.settlement_id))
        ]
        earlier = []
        for settlement_id in ids:
            found = self.store.get(settlement_id)
            if found is None:
                raise NotFound(f"no settlement {settlement_id}")
            earlier.append(found)
        return earlier

    def _publish(self, settlement: Settlement) -> None:
        try:
            report, lines = self.settlement_report(settlement)
        except PointsNetError:
            logger.exception(
                "report not rendered", extra={"settlement_id": settlement.settlement_id}
            )
            return
        publish(self.reports, report, lines)

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
            self._publish(updated)
            return Answer(201, body)
        raise Conflict(f"settlement {settlement_id} is changing; retry with the same key")


def _order(settlement_id: str) -> int:
    """An adjustment's number (`..._a2`: 2); 0 for a settlement."""
    _, _, sequence = settlement_id.rpartition("_a")
    return int(sequence) if sequence.isdigit() else 0


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
