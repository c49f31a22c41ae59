"""The composition root: every default dependency, built once per execution environment.

Only this module (and the local runtime and CLI, which provision) puts a concrete store
behind a domain port. Each factory imports what it builds when first called, so a function
loads only the packages its own requests use. Tests that change the environment call
`clear_caches()`.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pointsnet.auth.keys import KeyResolver
    from pointsnet.events.outbox import Outbox
    from pointsnet.imports.service import Imports
    from pointsnet.journal.writer import JournalWriter
    from pointsnet.ledger.service import Ledger
    from pointsnet.ledger.sweeps import Sweeper
    from pointsnet.metrics.service import ProgramMetrics
    from pointsnet.network.cross_partner import CrossPartnerLedger
    from pointsnet.network.earn_batches import EarnBatches
    from pointsnet.network.exchanges import Exchanges
    from pointsnet.network.links import Links
    from pointsnet.network.pricing import Pricing
    from pointsnet.network.rates import Rates
    from pointsnet.partners.models import IssuedKey
    from pointsnet.partners.rate_limits import RateLimiter
    from pointsnet.partners.service import PartnerDirectory
    from pointsnet.programs.service import ProgramPolicies
    from pointsnet.rules.book import RuleBook
    from pointsnet.rules.referrals import Referrals
    from pointsnet.rules.service import EarningRules
    from pointsnet.settlement.audit import FullAudit
    from pointsnet.settlement.models import Settlement
    from pointsnet.settlement.on_demand import SettlementRuns
    from pointsnet.settlement.run import Reconciler
    from pointsnet.settlement.service import Settlements
    from pointsnet.settlement.statements import Statements
    from pointsnet.store.directory_store import DirectoryStore
    from pointsnet.store.event_bus import EventBus
    from pointsnet.store.network_store import NetworkStore
    from pointsnet.store.report_bucket import ReportBucket
    from pointsnet.store.rules_store import RulesStore
    from pointsnet.store.settlement_store import SettlementStore
    from pointsnet.store.webhook_store import WebhookStore, WebhookVault
    from pointsnet.webhooks.inbox import WebhookInbox
    from pointsnet.webhooks.service import Webhooks


# identity and limits


@lru_cache(maxsize=1)
def default_key_resolver() -> KeyResolver:
    from pointsnet.auth.keys import KeyResolver
    from pointsnet.settings import get_settings
    from pointsnet.store.key_secrets import KeySecrets

    settings = get_settings()
    return KeyResolver(
        default_directory_store(),
        KeySecrets(settings.key_secret_prefix),
        cache_seconds=settings.key_cache_seconds,
    )


@lru_cache(maxsize=1)
def default_rate_limiter() -> RateLimiter:
    """This instance's leases of the partners' rate budgets, kept across its requests."""
    from pointsnet.partners.rate_limits import RateLimiter
    from pointsnet.settings import get_settings
    from pointsnet.store.rate_budget_store import RateBudgetStore

    return RateLimiter(RateBudgetStore(get_settings().directory_table))


@lru_cache(maxsize=1)
def default_directory_store() -> DirectoryStore:
    from pointsnet.settings import get_settings
    from pointsnet.store.directory_store import DirectoryStore

    return DirectoryStore(get_settings().directory_table)


def default_partner_directory() -> PartnerDirectory:
    from pointsnet.partners.service import PartnerDirectory
    from pointsnet.settings import get_settings
    from pointsnet.store.key_secrets import KeySecrets

    return PartnerDirectory(default_directory_store(), KeySecrets(get_settings().key_secret_prefix))


def bootstrap_operator(directory_table: str, key_secret_prefix: str) -> IssuedKey:
    """The operator's first admin key, issued into a deployed stack's tables with your AWS
    credentials; any failure to reach them is a PointsNetError."""
    from pointsnet.partners.service import PartnerDirectory
    from pointsnet.store.directory_store import DirectoryStore
    from pointsnet.store.dynamo import sdk_failures_as_unavailable
    from pointsnet.store.key_secrets import KeySecrets

    with sdk_failures_as_unavailable():
        directory = PartnerDirectory(DirectoryStore(directory_table), KeySecrets(key_secret_prefix))
        return directory.bootstrap_operator()


def default_program_policies() -> ProgramPolicies:
    from pointsnet.programs.service import ProgramPolicies
    from pointsnet.settings import get_settings
    from pointsnet.store.policy_store import PolicyStore

    return ProgramPolicies(PolicyStore(get_settings().directory_table), default_directory_store())


# the ledger and the network


@lru_cache(maxsize=1)
def default_ledger() -> Ledger:
    from pointsnet.ledger.service import Ledger
    from pointsnet.programs.policy import PolicyBook
    from pointsnet.rules.pricing import RulePricer
    from pointsnet.rules.referrals import Referrals
    from pointsnet.settings import get_settings
    from pointsnet.store.ledger_store import LedgerStore
    from pointsnet.store.policy_store import PolicyStore
    from pointsnet.store.referral_store import ReferralStore

    settings = get_settings()
    book = default_rule_book()
    ledger = Ledger(
        LedgerStore(settings.ledger_table),
        policies=PolicyBook(
            PolicyStore(settings.directory_table), cache_seconds=settings.policy_cache_seconds
        ),
        rules=RulePricer(book),
    )
    # A referred member's first earn credits its referral, through the same engine.
    ledger.follow_ups = Referrals(ReferralStore(settings.ledger_table), ledger.engine, book)
    return ledger


def default_referrals() -> Referrals:
    from pointsnet.rules.referrals import Referrals

    follow_ups = default_ledger().follow_ups
    assert isinstance(follow_ups, Referrals)
    return follow_ups


@lru_cache(maxsize=1)
def default_rules_store() -> RulesStore:
    from pointsnet.settings import get_settings
    from pointsnet.store.rules_store import RulesStore

    return RulesStore(get_settings().directory_table)


@lru_cache(maxsize=1)
def default_rule_book() -> RuleBook:
    from pointsnet.rules.book import RuleBook
    from pointsnet.settings import get_settings

    return RuleBook(default_rules_store(), cache_seconds=get_settings().policy_cache_seconds)


def default_earning_rules() -> EarningRules:
    from pointsnet.rules.service import EarningRules

    return EarningRules(default_rules_store(), default_ledger())


@lru_cache(maxsize=1)
def default_network_store() -> NetworkStore:
    from pointsnet.settings import get_settings
    from pointsnet.store.network_store import NetworkStore

    settings = get_settings()
    return NetworkStore(settings.ledger_table, settings.directory_table)


@lru_cache(maxsize=1)
def default_pricing() -> Pricing:
    from pointsnet.network.pricing import Pricing

    return Pricing(default_network_store(), default_directory_store())


@lru_cache(maxsize=1)
def default_cross_partner_ledger() -> CrossPartnerLedger:
    from pointsnet.network.cross_partner import CrossPartnerLedger

    return CrossPartnerLedger(default_ledger(), default_network_store(), default_pricing())


@lru_cache(maxsize=1)
def default_links() -> Links:
    from pointsnet.network.links import Links
    from pointsnet.settings import get_settings

    return Links(
        default_network_store(), pending_for=timedelta(seconds=get_settings().link_pending_seconds)
    )


@lru_cache(maxsize=1)
def default_rates() -> Rates:
    from pointsnet.network.rates import Rates

    return Rates(default_network_store())


@lru_cache(maxsize=1)
def default_exchanges() -> Exchanges:
    from pointsnet.network.exchanges import Exchanges
    from pointsnet.settings import get_settings

    return Exchanges(
        engine=default_ledger().engine,
        network=default_network_store(),
        rates=default_rates(),
        pricing=default_pricing(),
        quote_ttl=timedelta(seconds=get_settings().quote_ttl_seconds),
    )


def default_sweeper() -> Sweeper:
    from pointsnet.ledger.sweeps import Sweeper
    from pointsnet.ledger.upkeep import Upkeep

    ledger = default_ledger()
    return Sweeper(Upkeep(ledger), ledger.store)


# events


def default_event_bus() -> EventBus:
    from pointsnet.errors import StoreUnavailable
    from pointsnet.settings import get_settings
    from pointsnet.store.event_bus import EventBus

    bus_name = get_settings().event_bus_name
    if not bus_name:
        raise StoreUnavailable("EVENT_BUS_NAME is not set")
    return EventBus(bus_name)


@lru_cache(maxsize=1)
def default_outbox() -> Outbox:
    from pointsnet.events.outbox import Outbox
    from pointsnet.store.ledger_store import LedgerStore

    return Outbox(default_event_bus(), LedgerStore.outbox_item)


# the journal


@lru_cache(maxsize=1)
def default_journal_writer() -> JournalWriter:
    from pointsnet.journal.layout import journal_shards
    from pointsnet.journal.writer import JournalWriter
    from pointsnet.settlement.settings import get_settlement_settings
    from pointsnet.store.journal_bucket import JournalBucket, JournalHeads, journal_records

    settings = get_settlement_settings()
    return JournalWriter(
        JournalBucket(settings.journal_bucket),
        JournalHeads(settings.settlement_table),
        journal_shards(),
        read_records=journal_records,
    )


# settlement


@lru_cache(maxsize=1)
def default_settlement_store() -> SettlementStore:
    from pointsnet.settlement.settings import get_settlement_settings
    from pointsnet.store.settlement_store import SettlementStore

    return SettlementStore(get_settlement_settings().settlement_table)


@lru_cache(maxsize=1)
def default_report_bucket() -> ReportBucket:
    from pointsnet.settlement.settings import get_settlement_settings
    from pointsnet.store.report_bucket import ReportBucket

    return ReportBucket(get_settlement_settings().reports_bucket)


def announce_settlement(settlement: Settlement) -> None:
    """Publish `settlement.ready` to every partner with a position in the settlement."""
    from pointsnet.events.settlement import publish_settlement_ready

    publish_settlement_ready(
        settlement_id=settlement.settlement_id,
        period_start=settlement.period_start,
        period_end=settlement.period_end,
        currency=settlement.currency,
        status=settlement.status,
        net_positions={
            position.partner_id: position.amount for position in settlement.net_positions
        },
        provisional=settlement.provisional,
        bus=default_event_bus(),
    )


@lru_cache(maxsize=1)
def default_reconciler() -> Reconciler:
    from pointsnet.journal.layout import journal_shards
    from pointsnet.settings import get_settings
    from pointsnet.settlement.run import Reconciler
    from pointsnet.settlement.settings import get_settlement_settings
    from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
    from pointsnet.store.ledger_day_reader import LedgerDayReader

    settings = get_settlement_settings()
    return Reconciler(
        default_settlement_store(),
        LedgerDayReader(settings.ledger_table),
        (JournalBucket(settings.journal_bucket), JournalHeads(settings.settlement_table)),
        default_report_bucket(),
        currency=settings.currency,
        shards=journal_shards(),
        announce=announce_settlement if get_settings().event_bus_name else None,
    )


def default_audit() -> FullAudit:
    """The weekly audit of the whole table against the journal."""
    from pointsnet.journal.layout import journal_shards
    from pointsnet.settlement.audit import FullAudit
    from pointsnet.settlement.settings import get_settlement_settings
    from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
    from pointsnet.store.ledger_store import LedgerStore

    settings = get_settlement_settings()
    bucket = JournalBucket(settings.journal_bucket)
    return FullAudit(
        LedgerStore(settings.ledger_table),
        (bucket, JournalHeads(settings.settlement_table)),
        bucket,
        journal_shards(),
    )


@lru_cache(maxsize=1)
def default_settlements() -> Settlements:
    from pointsnet.settlement.service import Settlements

    return Settlements(default_settlement_store(), default_report_bucket(), names=partner_name)


@lru_cache(maxsize=1)
def default_settlement_runs() -> SettlementRuns:
    from pointsnet.settlement.on_demand import SettlementRuns
    from pointsnet.settlement.settings import get_settlement_settings

    arn = get_settlement_settings().state_machine_arn
    if not arn:
        return SettlementRuns(default_reconciler(), default_settlement_store())
    from pointsnet.store.state_machine import StateMachineStarter

    return SettlementRuns(
        default_reconciler(), default_settlement_store(), starter=StateMachineStarter(arn)
    )


# program metrics


@lru_cache(maxsize=1)
def default_program_metrics() -> ProgramMetrics:
    """Program metrics: days in the settlement table, programs from the directory, and the
    journal, which only computing a day reads."""
    from pointsnet.journal.layout import journal_shards
    from pointsnet.metrics.service import ProgramMetrics
    from pointsnet.settings import get_settings
    from pointsnet.settlement.settings import get_settlement_settings
    from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
    from pointsnet.store.metrics_store import MetricsStore, ProgramDirectoryStore

    settings = get_settlement_settings()
    return ProgramMetrics(
        MetricsStore(settings.settlement_table),
        ProgramDirectoryStore(get_settings().directory_table),
        (JournalBucket(settings.journal_bucket), JournalHeads(settings.settlement_table)),
        currency=settings.currency,
        shards=journal_shards(),
        program_cache_seconds=get_settings().policy_cache_seconds,
    )


# imports and batch earns


@lru_cache(maxsize=1)
def default_earn_batches() -> EarnBatches:
    from pointsnet.network.earn_batches import EarnBatches
    from pointsnet.settings import get_settings
    from pointsnet.store.batch_store import BatchStore

    return EarnBatches(default_cross_partner_ledger(), BatchStore(get_settings().ledger_table))


@lru_cache(maxsize=1)
def default_imports() -> Imports:
    from pointsnet.errors import PointsNetError
    from pointsnet.imports.service import Imports
    from pointsnet.ledger.opening import OpeningBalances
    from pointsnet.settings import get_settings
    from pointsnet.store.import_store import ImportBucket, ImportStore
    from pointsnet.store.state_machine import StateMachineStarter

    settings = get_settings()
    if settings.imports_bucket is None:
        raise PointsNetError("imports are not configured here (no IMPORTS_BUCKET)")
    ledger = default_ledger()
    # The partner API starts runs; the import function, which runs their steps, starts none.
    machine = settings.import_state_machine
    return Imports(
        ImportStore(settings.directory_table),
        ImportBucket(settings.imports_bucket),
        OpeningBalances(ledger.store, ledger.policies),
        StateMachineStarter(machine) if machine else None,
        concurrency=settings.import_concurrency,
    )


# webhooks and statements


def partner_name(partner_id: str) -> str | None:
    """A partner's name in the directory, for reports and statements."""
    partner = default_directory_store().get_partner(partner_id)
    return partner.name if partner else None


@lru_cache(maxsize=1)
def default_statements() -> Statements:
    from pointsnet.settlement.statements import Statements

    return Statements(default_settlement_store(), partner_name)


def _webhook_parts() -> tuple[WebhookStore, WebhookVault, bool]:
    from pointsnet.settings import get_settings
    from pointsnet.store.webhook_store import WebhookStore, WebhookVault

    settings = get_settings()
    # A rotated secret reaches the deliveries as soon as a changed policy reaches a request.
    vault = WebhookVault(
        settings.webhook_secret_prefix, cache_seconds=settings.policy_cache_seconds
    )
    loopback = settings.webhook_loopback == "allowed"
    return WebhookStore(settings.directory_table), vault, loopback


@lru_cache(maxsize=1)
def default_webhooks() -> Webhooks:
    from pointsnet.webhooks.service import Webhooks

    store, vault, loopback = _webhook_parts()
    return Webhooks(store, vault, allow_loopback=loopback)


@lru_cache(maxsize=1)
def default_webhook_inbox() -> WebhookInbox:
    from pointsnet.store.webhook_queue import WebhookQueue
    from pointsnet.store.webhook_sender import HttpSender
    from pointsnet.webhooks.delivery import Deliverer
    from pointsnet.webhooks.inbox import WebhookInbox

    store, vault, loopback = _webhook_parts()
    deliverer = Deliverer(store, vault, HttpSender(), allow_loopback=loopback)
    return WebhookInbox(deliverer, WebhookQueue())


def clear_caches() -> None:
    """Forget every built dependency (each `default_*` here that is cached) and the settings
    they were built from: tests and the bench that change the environment call this."""
    from pointsnet.journal.layout import journal_shards
    from pointsnet.settings import get_settings
    from pointsnet.settlement.settings import get_settlement_settings

    built = [
        value
        for name, value in globals().items()
        if name.startswith("default_") and hasattr(value, "cache_clear")
    ]
    for factory in (get_settings, journal_shards, get_settlement_settings, *built):
        factory.cache_clear()
