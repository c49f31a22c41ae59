"""`settlement.ready`: published by reconciliation when a run has produced a settlement."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from pointsnet.clock import utc_now
from pointsnet.errors import StoreUnavailable
from pointsnet.events.models import SettlementReady, SettlementReadyData, event_id
from pointsnet.events.ports import EventPublisher


def settlement_ready_events(
    *,
    settlement_id: str,
    period_start: date,
    period_end: date,
    currency: str,
    status: str,
    net_positions: Mapping[str, Decimal],
    occurred_at: datetime,
    provisional: bool = False,
) -> list[SettlementReady]:
    """One event per partner, carrying that partner's own net position only."""
    return [
        SettlementReady(
            id=event_id("settlement.ready", settlement_id, partner_id),
            occurred_at=occurred_at,
            partner_id=partner_id,
            data=SettlementReadyData(
                settlement_id=settlement_id,
                period_start=period_start,
                period_end=period_end,
                currency=currency,
                status=status,
                amount=amount,
                provisional=provisional,
            ),
        )
        for partner_id, amount in sorted(net_positions.items())
    ]


def publish_settlement_ready(
    *,
    settlement_id: str,
    period_start: date,
    period_end: date,
    currency: str,
    status: str,
    net_positions: Mapping[str, Decimal],
    occurred_at: datetime | None = None,
    provisional: bool = False,
    bus: EventPublisher,
) -> list[str]:
    """Publish `settlement.ready` to each partner in `net_positions`; returns the event ids.

    `net_positions` maps partner id to its net amount (positive: it receives); `provisional`:
    the period had not ended when the run started. The ids derive
    from the settlement and partner, so publishing a settlement again is a duplicate that
    consumers drop. Raises StoreUnavailable if EventBridge does not take every event.
    """
    events = settlement_ready_events(
        settlement_id=settlement_id,
        period_start=period_start,
        period_end=period_end,
        currency=currency,
        status=status,
        net_positions=net_positions,
        occurred_at=occurred_at or utc_now(),
        provisional=provisional,
    )
    failed = bus.put(events)
    if failed:
        raise StoreUnavailable(f"{len(failed)} settlement.ready events were not published")
    return [event.id for event in events]
