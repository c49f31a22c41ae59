"""Default settlement dependencies, built once per execution environment from the settings."""

from __future__ import annotations

from functools import lru_cache

from pointsnet.settlement.models import Settlement
from pointsnet.settlement.run import Reconciler
from pointsnet.settlement.service import SettlementRuns, Settlements
from pointsnet.settlement.settings import get_settlement_settings
from pointsnet.store.settlement_store import LedgerPeriodReader, ReportBucket, SettlementStore


@lru_cache(maxsize=1)
def default_settlement_store() -> SettlementStore:
    return SettlementStore(get_settlement_settings().settlement_table)


@lru_cache(maxsize=1)
def default_report_bucket() -> ReportBucket:
    return ReportBucket(get_settlement_settings().reports_bucket)


def announce_settlement(settlement: Settlement) -> None:
    """Publish `settlement.ready` to every partner with a position in the settlement."""
    from pointsnet.events import publish_settlement_ready

    publish_settlement_ready(
        settlement_id=settlement.settlement_id,
        period_start=settlement.period_start,
        period_end=settlement.period_end,
        currency=settlement.currency,
        status=settlement.status,
        net_positions={
            position.partner_id: position.amount for position in settlement.net_positions
        },
    )


@lru_cache(maxsize=1)
def default_reconciler() -> Reconciler:
    from pointsnet.settings import get_settings

    settings = get_settlement_settings()
    return Reconciler(
        default_settlement_store(),
        LedgerPeriodReader(settings.ledger_table),
        default_report_bucket(),
        currency=settings.currency,
        page_size=settings.page_size,
        announce=announce_settlement if get_settings().event_bus_name else None,
    )


@lru_cache(maxsize=1)
def default_settlements() -> Settlements:
    return Settlements(default_settlement_store(), default_report_bucket())


@lru_cache(maxsize=1)
def default_settlement_runs() -> SettlementRuns:
    return SettlementRuns(default_reconciler(), default_settlement_store())


def clear_caches() -> None:
    """Forget every built dependency: tests that change the environment call this."""
    for factory in (
        get_settlement_settings,
        default_settlement_store,
        default_report_bucket,
        default_reconciler,
        default_settlements,
        default_settlement_runs,
    ):
        factory.cache_clear()
