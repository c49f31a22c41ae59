"""Rigging for the adversarial tests: the partner API over a ledger table and a boto3 client
of the test's choosing, and what the ledger then holds.

The ledger is built the way the default wiring builds it, except for the table (one per
example, so examples do not see each other's entries) and the client (which a test may wrap
to fail on cue). Both are passed in: nothing is patched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.api.partner import create_partner_app
from pointsnet.ledger.check import LedgerCheck, check_ledger
from pointsnet.ledger.port import StoredBalance, StoredEntry
from pointsnet.ledger.service import Ledger
from pointsnet.local.template import table_definitions
from pointsnet.network.cross_partner import CrossPartnerLedger
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.network.pricing import Pricing
from pointsnet.network.rates import Rates
from pointsnet.settings import get_settings
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.store.network_store import NetworkStore
from pointsnet.wiring import default_key_resolver
from tests.helpers import STACK, TEMPLATE, LambdaContextStub

LEDGER_TABLE_ID = "LedgerTable"


def create_ledger_table(prefix: str = "ledger") -> str:
    """A new, empty table shaped like the template's ledger table; returns its name."""
    definition = dict(table_definitions(TEMPLATE, STACK)[LEDGER_TABLE_ID])
    definition["TableName"] = f"{prefix}-{uuid.uuid4().hex[:12]}"
    boto3.client("dynamodb").create_table(**definition)
    return str(definition["TableName"])


def drop_table(name: str) -> None:
    boto3.client("dynamodb").delete_table(TableName=name)


def no_sleep(_: float) -> None:
    """Back-off without waiting: these tests are single-threaded, nothing moves meanwhile."""


def ledger_over(table: str, client: Any = None) -> CrossPartnerLedger:
    """The ledger the default wiring builds, on `table`, speaking through `client`."""
    settings = get_settings()
    network = NetworkStore(table, settings.directory_table, client=client)
    return CrossPartnerLedger(
        Ledger(LedgerStore(table, client=client), sleep=no_sleep),
        network,
        Pricing(network, DirectoryStore(settings.directory_table, client=client)),
    )


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def partner_handler(
    ledger: CrossPartnerLedger, links: Links, rates: Rates, exchanges: Exchanges
) -> Handler:
    """The partner API's resolver over these services, called as API Gateway calls it."""
    app = create_partner_app(
        ledger=lambda: ledger,
        keys=default_key_resolver,
        links=lambda: links,
        rates=lambda: rates,
        exchanges=lambda: exchanges,
    )
    context = cast(LambdaContext, LambdaContextStub())
    return lambda event, _: app.resolve(event, context)


def stored(table: str) -> list[object]:
    """Every item the ledger check reads (entries and balances, and whatever else it folds)."""
    return list(LedgerStore(table).scan())


def ledger_check(table: str) -> LedgerCheck:
    return check_ledger(LedgerStore(table).scan())


def stored_balances(table: str) -> dict[str, int]:
    """Available points by member account, as stored."""
    return {
        item.account: item.available for item in stored(table) if isinstance(item, StoredBalance)
    }


def stored_entries(table: str) -> dict[str, StoredEntry]:
    return {
        item.transaction.transaction_id: item
        for item in stored(table)
        if isinstance(item, StoredEntry)
    }


def describe(check: LedgerCheck) -> str:
    return (
        f"unbalanced={check.unbalanced_transactions} mismatched={check.mismatched_accounts} "
        f"negative={check.negative_accounts}"
    )
