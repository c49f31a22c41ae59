"""One reconciliation run over a day of 10k, then 100k, ledger entries, on the local emulator.

The day is written straight into the template's tables with BatchWriteItem, item by item as
`LedgerStore` and `NetworkStore` write them: earns and burns spread over a few hundred
member accounts, every tenth earn across partners with its obligation, and each account's
stored balance equal to the sum of its entries, so every check has real work and passes.

The emulator is moto's server in a child process (as `make run` uses it), so the memory
traced in this process is the reconciliation's own: its pages, its parsed items and the
SDK's work, none of moto's item store.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.network import process_environment
from bench.timing import AwsCallTimer

SIZES = (10_000, 100_000)
MEMBERS = 300
CROSS_PARTNER_EVERY = 10  # every tenth earn is a partner's earn for a linked member
BURN_EVERY = 7
PARTNERS = (("starlodge", "STAR", Decimal("0.0025")), ("rideco", "RIDE", Decimal("0.01")))
BATCH_WRITE_LIMIT = 25


@dataclass(frozen=True)
class ReconciliationFigures:
    entries: int
    obligations: int
    accounts: int
    seed_seconds: float
    wall_seconds: float
    aws_wall_seconds: float
    aws_calls: int
    pages: int
    peak_bytes: int  # tracemalloc peak over the run, above what was held before it
    checks_ok: bool

    @property
    def entries_per_second(self) -> float:
        return self.entries / self.wall_seconds

    @property
    def own_entries_per_second(self) -> float:
        return self.entries / (self.wall_seconds - self.aws_wall_seconds)


def measure_reconciliation(sizes: tuple[int, ...] = SIZES) -> list[ReconciliationFigures]:
    return [_measure(size) for size in sizes]


def _measure(entries: int) -> ReconciliationFigures:
    from pointsnet.local.emulator import aws_client
    from pointsnet.settlement.run import Reconciler, reconcile_period
    from pointsnet.store.ledger_period_reader import LedgerPeriodReader
    from pointsnet.store.report_bucket import ReportBucket
    from pointsnet.store.settlement_store import SettlementStore

    day = datetime.now(UTC).date() - timedelta(days=1)
    with _emulated_tables() as environment:
        dynamodb = aws_client("dynamodb", environment)
        started = time.perf_counter()
        obligations = _seed_day(dynamodb, environment, day, entries)
        seed_seconds = time.perf_counter() - started

        timer = AwsCallTimer()
        timer.install(dynamodb.meta.events)
        reconciler = Reconciler(
            SettlementStore(environment["SETTLEMENT_TABLE"], dynamodb),
            LedgerPeriodReader(environment["LEDGER_TABLE"], dynamodb),
            ReportBucket(environment["REPORTS_BUCKET"], aws_client("s3", environment)),
            currency=environment.get("SETTLEMENT_CURRENCY", "USD"),
        )
        tracemalloc.start()
        try:
            timer.reset()
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            started = time.perf_counter()
            outcome = reconcile_period(day, day, reconciler=reconciler)
            wall = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    settlement = outcome.settlement
    if settlement is None or settlement.run is None:
        raise RuntimeError("the reconciliation run did not finish in one call")
    if settlement.run.transactions != entries or settlement.run.obligations != obligations:
        raise RuntimeError(
            f"the run read {settlement.run.transactions} entries and "
            f"{settlement.run.obligations} obligations, not {entries} and {obligations}"
        )
    return ReconciliationFigures(
        entries=entries,
        obligations=obligations,
        accounts=settlement.run.accounts_checked,
        seed_seconds=seed_seconds,
        wall_seconds=wall,
        aws_wall_seconds=timer.wall_seconds,
        aws_calls=timer.calls,
        pages=settlement.run.pages,
        peak_bytes=peak - baseline,
        checks_ok=all(check.ok for check in settlement.checks),
    )


@contextlib.contextmanager
def _emulated_tables() -> Iterator[dict[str, str]]:
    """A fresh emulator with the template's tables and bucket; the reconciliation function's
    environment pointed at it, set in this process too for any client made by default."""
    from pointsnet.local.emulator import Emulator, provision
    from pointsnet.local.template import LocalStack, load_template

    with Emulator() as emulator:
        environment = provision(load_template(), LocalStack(), emulator.endpoint_url)[
            "ReconciliationFunction"
        ]
        with process_environment(environment):
            yield environment


def _seed_day(dynamodb: Any, environment: dict[str, str], day: date, entries: int) -> int:
    """Write the day's entries, obligations and balances; the number of obligations."""
    from pointsnet.ledger.accounts import issued_account, member_account, redeemed_account
    from pointsnet.ledger.models import (
        Balance,
        Obligation,
        ObligationTerms,
        Posting,
        Transaction,
        TransactionType,
    )
    from pointsnet.ledger.port import StoredEntry
    from pointsnet.store.dynamo import to_item
    from pointsnet.store.ledger_items import BALANCE_SK, entry_put
    from pointsnet.store.ledger_keys import account_pk
    from pointsnet.store.network_store import obligation_put

    ledger_table = environment["LEDGER_TABLE"]
    members = [(*PARTNERS[number % len(PARTNERS)], f"m{number:04d}") for number in range(MEMBERS)]
    balances = [0] * MEMBERS
    versions = [0] * MEMBERS
    obligations = 0
    first = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    step = timedelta(days=1) / entries
    items: list[dict[str, Any]] = []
    for number in range(entries):
        slot = number % MEMBERS
        partner, program, value, member_id = members[slot]
        account = member_account(partner, member_id)
        points = 10 + number % 90
        burn = number % BURN_EVERY == 0 and balances[slot] >= points
        cross = not burn and number % CROSS_PARTNER_EVERY == 0
        initiator = (
            next(other for other, _, _ in PARTNERS if other != partner) if cross else partner
        )
        transaction = Transaction(
            transaction_id="txn_" + hashlib.sha256(f"{day}#{number}".encode()).hexdigest()[:24],
            type=TransactionType.BURN if burn else TransactionType.EARN,
            program=program,
            points=points,
            partner_id=partner,
            member_id=member_id,
            initiated_by=initiator,
            reference=f"bench-{number}",
            obligation=(
                ObligationTerms(
                    payer=initiator,
                    payee=partner,
                    program=program,
                    points=points,
                    unit_price=value,
                    currency="USD",
                )
                if cross
                else None
            ),
            created_at=first + step * number,
            postings=(
                (
                    Posting(account=account, points=-points),
                    Posting(account=redeemed_account(program), points=points),
                )
                if burn
                else (
                    Posting(account=issued_account(program), points=-points),
                    Posting(account=account, points=points),
                )
            ),
        )
        balances[slot] += -points if burn else points
        versions[slot] += 1
        stored = StoredEntry(
            transaction=transaction,
            balance_after=Balance(program=program, available=balances[slot]),
            fingerprint=hashlib.sha256(transaction.reference.encode()).hexdigest(),
            account=account,
        )
        # The very item a posting writes, with its ByAccount keys.
        items.append(entry_put(ledger_table, stored)["Item"])
        if transaction.obligation is not None:
            obligations += 1
            put = obligation_put(
                ledger_table,
                Obligation(
                    transaction_id=transaction.transaction_id,
                    kind="cross_partner_earn",
                    created_at=transaction.created_at,
                    terms=transaction.obligation,
                ),
            )
            items.append(put["Put"]["Item"])
        if len(items) >= BATCH_WRITE_LIMIT:
            _batch_write(dynamodb, ledger_table, items)
            items = []
    for slot, (partner, program, _, member_id) in enumerate(members):
        # As a member's first posting creates its balance, moved on by every later one.
        items.append(
            to_item(
                {
                    "pk": account_pk(member_account(partner, member_id)),
                    "sk": BALANCE_SK,
                    "available": balances[slot],
                    "pending": 0,
                    "version": versions[slot],
                    "program": program,
                    "partner_id": partner,
                    "member_id": member_id,
                }
            )
        )
        if len(items) >= BATCH_WRITE_LIMIT:
            _batch_write(dynamodb, ledger_table, items)
            items = []
    if items:
        _batch_write(dynamodb, ledger_table, items)
    return obligations


def _batch_write(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
