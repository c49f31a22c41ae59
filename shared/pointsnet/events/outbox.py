"""The outbox: what the ledger table's stream carries, published as the network's events.

Entries, tier changes and notices are written in the same transaction as what they report,
so publishing them from the stream means an event can be late, never lost. A record is
published at least once: a retried batch republishes, under the same event ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pointsnet.clock import rfc3339
from pointsnet.events.models import (
    BalanceData,
    MemberInactive,
    MemberInactiveData,
    MemberTierChanged,
    MemberTierChangedData,
    NetworkEvent,
    PointsEarned,
    PointsEarnedData,
    PointsExpired,
    PointsExpiredData,
    PointsExpiring,
    PointsExpiringData,
    event_id,
)
from pointsnet.events.ports import EventPublisher
from pointsnet.ledger.models import ExpiringNotice, InactiveNotice, TierChange, TransactionType
from pointsnet.ledger.port import OutboxItem, StoredEntry
from pointsnet.observability import logger


def event_for(item: OutboxItem) -> NetworkEvent | None:
    """The event an outbox item reports, if any (most entries report none)."""
    if isinstance(item, TierChange):
        return MemberTierChanged(
            id=event_id("member.tier_changed", item.account, str(item.version)),
            occurred_at=item.changed_at,
            partner_id=item.partner_id,
            data=MemberTierChangedData(
                program=item.program,
                member_id=item.member_id,
                from_tier=item.from_tier,
                to_tier=item.to_tier,
                direction="up" if item.direction == "up" else "down",
                points_earned=item.points_earned,
                window_start=item.window_start,
                transaction_id=item.transaction_id,
            ),
        )
    if isinstance(item, ExpiringNotice):
        return PointsExpiring(
            id=event_id(
                "points.expiring",
                item.account,
                item.lot or "lapse",
                item.expires_at.date().isoformat(),
            ),
            occurred_at=item.noticed_at,
            partner_id=item.partner_id,
            data=PointsExpiringData(
                program=item.program,
                member_id=item.member_id,
                points=item.points,
                expires_at=item.expires_at,
                reason="lot" if item.lot else "inactivity",
                lot=item.lot,
            ),
        )
    if isinstance(item, InactiveNotice):
        return MemberInactive(
            id=event_id("member.inactive", item.account, rfc3339(item.active_at)),
            occurred_at=item.noticed_at,
            partner_id=item.partner_id,
            data=MemberInactiveData(
                program=item.program,
                member_id=item.member_id,
                active_at=item.active_at,
                inactive_days=item.inactive_days,
            ),
        )
    return _entry_event(item)


def _entry_event(entry: StoredEntry) -> NetworkEvent | None:
    transaction = entry.transaction
    balance = BalanceData(
        available=entry.balance_after.available, pending=entry.balance_after.pending
    )
    if transaction.type in (TransactionType.EARN, TransactionType.CAPTURE):
        return PointsEarned(
            id=event_id("points.earned", transaction.transaction_id),
            occurred_at=transaction.created_at,
            partner_id=transaction.partner_id,
            data=PointsEarnedData(
                transaction_id=transaction.transaction_id,
                transaction_type="capture"
                if transaction.type == TransactionType.CAPTURE
                else "earn",
                program=transaction.program,
                member_id=transaction.member_id,
                points=transaction.points,
                reference=transaction.reference,
                initiated_by=transaction.initiated_by,
                hold_id=transaction.hold_id,
                balance=balance,
            ),
        )
    if transaction.type == TransactionType.EXPIRY:
        by_lot = transaction.reason == "lot"
        return PointsExpired(
            id=event_id("points.expired", transaction.transaction_id),
            occurred_at=transaction.created_at,
            partner_id=transaction.partner_id,
            data=PointsExpiredData(
                transaction_id=transaction.transaction_id,
                program=transaction.program,
                member_id=transaction.member_id,
                points=transaction.points,
                reason="lot" if by_lot else "inactivity",
                lot=entry.lots[0].lot if by_lot and entry.lots else None,
                balance=balance,
            ),
        )
    return None


class Outbox:
    def __init__(
        self, bus: EventPublisher, read_item: Callable[[Mapping[str, Any]], OutboxItem | None]
    ) -> None:
        self.bus = bus
        # What a stream record's new image holds: the ledger store knows its item layout.
        self.read_item = read_item

    def publish(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Publish a stream batch; the answer names where Lambda must resume on a failure.

        A stream resumes from the earliest failure, so everything before it is published
        and everything after it is published again on the retry (under the same ids).
        """
        pending: list[tuple[str, NetworkEvent]] = []
        stop_at: str | None = None
        for record in records:
            stream = record.get("dynamodb", {})
            sequence = str(stream.get("SequenceNumber", ""))
            if record.get("eventName") != "INSERT":
                continue
            try:
                item = self.read_item(stream.get("NewImage", {}))
                event = event_for(item) if item is not None else None
            except Exception:
                logger.exception("a stream record could not be read", extra={"sequence": sequence})
                stop_at = sequence
                break
            if event is not None:
                pending.append((sequence, event))
        failed: list[int] = []
        if pending:
            try:
                failed = self.bus.put([event for _, event in pending])
            except Exception:
                logger.exception("publishing events failed", extra={"events": len(pending)})
                failed = [0]
        if failed:
            first = min(failed)
            logger.warning(
                "some events were not taken",
                extra={"failed": len(failed), "first_event": pending[first][1].id},
            )
            stop_at = pending[first][0]
        elif pending:
            logger.info("events published", extra={"events": len(pending)})
        return {"batchItemFailures": [{"itemIdentifier": stop_at}] if stop_at else []}
