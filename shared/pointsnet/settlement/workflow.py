"""The settlement workflow: draft | needs_review -> approved -> paid, and disputed.

A settlement is disputed before it is approved; once approved its figures never change,
and a later difference for its period becomes an adjustment settlement. A disputed
settlement goes back to draft or needs_review when its period is run again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pointsnet.errors import Conflict
from pointsnet.settlement.models import Actor, AuditEntry, Settlement, SettlementStatus


class Action(StrEnum):
    RUN = "run"
    APPROVE = "approve"
    DISPUTE = "dispute"
    MARK_PAID = "mark_paid"


# The statuses an action may start from, and where it leads.
TRANSITIONS: dict[Action, tuple[frozenset[SettlementStatus], SettlementStatus]] = {
    Action.APPROVE: (
        frozenset({SettlementStatus.DRAFT, SettlementStatus.NEEDS_REVIEW}),
        SettlementStatus.APPROVED,
    ),
    Action.DISPUTE: (
        frozenset({SettlementStatus.DRAFT, SettlementStatus.NEEDS_REVIEW}),
        SettlementStatus.DISPUTED,
    ),
    Action.MARK_PAID: (frozenset({SettlementStatus.APPROVED}), SettlementStatus.PAID),
}
# A run may recompute these in place; the others are frozen or final.
RECOMPUTABLE = frozenset(
    {SettlementStatus.DRAFT, SettlementStatus.NEEDS_REVIEW, SettlementStatus.DISPUTED}
)


def transition(
    settlement: Settlement,
    action: Action,
    actor: Actor,
    at: datetime,
    *,
    reason: str | None = None,
    payment_reference: str | None = None,
) -> Settlement:
    """The settlement after `action`, with the step recorded; `Conflict` if it may not happen."""
    allowed, target = TRANSITIONS[action]
    if settlement.status not in allowed:
        starts = " or ".join(sorted(status.value for status in allowed))
        raise Conflict(
            f"settlement {settlement.settlement_id} is {settlement.status.value}; "
            f"{action.value} is only possible from {starts}"
        )
    entry = AuditEntry(
        action=action.value,
        from_status=settlement.status,
        to_status=target,
        at=at,
        partner_id=actor.partner_id,
        key_id=actor.key_id,
        reason=reason,
        payment_reference=payment_reference,
    )
    update: dict[str, object] = {
        "status": target,
        "audit": [*settlement.audit, entry],
        "version": settlement.version + 1,
        "updated_at": at,
    }
    if payment_reference is not None:
        update["payment_reference"] = payment_reference
    return settlement.model_copy(update=update)


def run_entry(
    previous: SettlementStatus | None,
    status: SettlementStatus,
    actor: Actor,
    at: datetime,
    reason: str,
) -> AuditEntry:
    return AuditEntry(
        action=Action.RUN.value,
        from_status=previous,
        to_status=status,
        at=at,
        partner_id=actor.partner_id,
        key_id=actor.key_id,
        reason=reason,
    )
