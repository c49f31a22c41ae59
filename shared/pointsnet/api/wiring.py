"""Default dependencies of the API, built once per execution environment from Settings."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pointsnet.auth.keys import KeyResolver
from pointsnet.ledger.service import default_ledger
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.network.pricing import Pricing
from pointsnet.network.rates import Rates
from pointsnet.partners.rate_limits import RateLimiter
from pointsnet.settings import get_settings
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.key_secrets import KeySecrets
from pointsnet.store.network_store import NetworkStore
from pointsnet.store.rate_budget_store import RateBudgetStore


@lru_cache(maxsize=1)
def default_key_resolver() -> KeyResolver:
    settings = get_settings()
    return KeyResolver(
        DirectoryStore(settings.directory_table),
        KeySecrets(settings.key_secret_prefix),
        cache_seconds=settings.key_cache_seconds,
    )


@lru_cache(maxsize=1)
def default_rate_limiter() -> RateLimiter:
    """This instance's leases of the partners' rate budgets, kept across its requests."""
    return RateLimiter(RateBudgetStore(get_settings().directory_table))


@lru_cache(maxsize=1)
def default_network_store() -> NetworkStore:
    settings = get_settings()
    return NetworkStore(settings.ledger_table, settings.directory_table)


@lru_cache(maxsize=1)
def default_links() -> Links:
    return Links(
        default_network_store(), pending_for=timedelta(seconds=get_settings().link_pending_seconds)
    )


@lru_cache(maxsize=1)
def default_rates() -> Rates:
    return Rates(default_network_store())


@lru_cache(maxsize=1)
def default_exchanges() -> Exchanges:
    settings = get_settings()
    network = default_network_store()
    return Exchanges(
        ledger=default_ledger(),
        network=network,
        rates=default_rates(),
        pricing=Pricing(network, DirectoryStore(settings.directory_table)),
        quote_ttl=timedelta(seconds=settings.quote_ttl_seconds),
    )


def clear_caches() -> None:
    """Forget every built dependency: tests that change the environment call this."""
    from pointsnet.events.outbox import default_outbox

    for factory in (
        default_outbox,
        get_settings,
        default_ledger,
        default_key_resolver,
        default_rate_limiter,
        default_network_store,
        default_links,
        default_rates,
        default_exchanges,
    ):
        factory.cache_clear()
