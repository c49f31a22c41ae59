"""One reconciliation run over a day of 10k, then 100k, ledger entries, on moto in process.

The day is written straight into the template's tables with BatchWriteItem, item by item as
`LedgerStore` and `NetworkStore` write them: earns and burns spread over a few hundred
member accounts, every tenth earn across partners with its obligation, and each account's
stored balance equal to the sum of its entries, so every check has real work and passes.

moto runs in this process, so a whole-process memory figure counts moto's work too: each
Scan and Query page makes moto list and sort every item of the table. What the function
itself holds is sampled at every SDK call's edges (before the request is built, after the
response is parsed), where moto holds nothing of the call.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3

from bench.network import FAKE_AWS, SHADOWING
from bench.timing import AwsCallTimer

# 100k is not run: on moto one 10k run takes close to 3 minutes (see the row's note).
SIZES = (10_000,)
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
    peak_process_bytes: int  # tracemalloc peak over the run, moto's work included
    peak_function_bytes: int  # highest traced memory at an SDK call's edges
    checks_ok: bool

    @property
    def entries_per_second(self) -> float:
        return self.entries / self.wall_seconds

    @property
    def own_entries_per_second(self) -> float:
        return self.entries / (self.wall_seconds - self.aws_wall_seconds)


class CallEdgeMemory:
    """Traced memory when no SDK call is under way: the caller's own footprint, moto's none."""

    def __init__(self) -> None:
        self.peak = 0

    def install(self, events: Any) -> None:
        events.register_first("provide-client-params", self._sample)
        events.register_last("after-call", self._sample)

    def reset(self) -> None:
        self.peak = 0

    def _sample(self, **_: Any) -> None:
        self.peak = max(self.peak, tracemalloc.get_traced_memory()[0])


def measure_reconciliation(sizes: tuple[int, ...] = SIZES) -> list[ReconciliationFigures]:
    return [_measure(size) for size in sizes]


def _measure(entries: int) -> ReconciliationFigures:
    from pointsnet.settlement.run import Reconciler, reconcile_period
    from pointsnet.store.settlement_store import LedgerPeriodReader, ReportBucket, SettlementStore

    day = datetime.now(UTC).date() - timedelta(days=1)
    with _moto_tables() as environment:
        dynamodb = boto3.client("dynamodb")
        started = time.perf_counter()
        obligations = _seed_day(dynamodb, environment, day, entries)
        seed_seconds = time.perf_counter() - started

        timer, memory = AwsCallTimer(), CallEdgeMemory()
        for instrument in (timer.install, memory.install):
            instrument(dynamodb.meta.events)
        reconciler = Reconciler(
            SettlementStore(environment["SETTLEMENT_TABLE"], dynamodb),
            LedgerPeriodReader(environment["LEDGER_TABLE"], dynamodb),
            ReportBucket(environment["REPORTS_BUCKET"], boto3.client("s3")),
            currency=environment.get("SETTLEMENT_CURRENCY", "USD"),
        )
        tracemalloc.start()
        try:
            timer.reset()
            memory.reset()
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            started = time.perf_counter()
            with _sorted_once(environment["LEDGER_TABLE"]):
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
        peak_process_bytes=peak - baseline,
        peak_function_bytes=max(memory.peak - baseline, 0),
        checks_ok=all(check.ok for check in settlement.checks),
    )


@contextlib.contextmanager
def _sorted_once(table_name: str) -> Iterator[None]:
    """Let moto sort the ledger table's items once for the whole run, not once per page.

    moto answers every Scan page and every index Query by sorting all the table's items
    (about 20 ms per 10k items on 2 cores): at 300 account queries that alone is minutes per
    run, and none of it is DynamoDB's cost. A run only reads the ledger table.
    """
    from moto.dynamodb.models.table import Table

    original = Table.all_items
    cached: list[Any] = []

    def all_items(table: Table) -> list[Any]:
        if table.name != table_name:
            return original(table)
        if not cached:
            cached.extend(original(table))
        return cached

    Table.all_items = all_items  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Table.all_items = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _moto_tables() -> Iterator[dict[str, str]]:
    """moto with the template's tables and bucket, in the reconciliation function's environment."""
    from moto import mock_aws

    from pointsnet.local.template import (
        LocalStack,
        bucket_names,
        functions,
        load_template,
        table_definitions,
    )

    template = load_template()
    stack = LocalStack()
    environment = {**functions(template, stack)["ReconciliationFunction"].environment, **FAKE_AWS}
    saved = {name: os.environ.get(name) for name in (*environment, *SHADOWING)}
    for name in SHADOWING:
        os.environ.pop(name, None)
    os.environ.update(environment)
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb")
            for definition in table_definitions(template, stack).values():
                # moto copies a table, stream records included, on every write; nothing here
                # reads the stream.
                definition.pop("StreamSpecification", None)
                dynamodb.create_table(**definition)
            s3 = boto3.client("s3")
            for bucket in bucket_names(template, stack).values():
                s3.create_bucket(Bucket=bucket)
            yield environment
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _seed_day(dynamodb: Any, environment: dict[str, str], day: date, entries: int) -> int:
    """Write the day's entries, obligations and balances; the number of obligations."""
    from pointsnet.ledger.accounts import issued_account, member_account, redeemed_account
    from pointsnet.ledger.models import (
        Balance,
        ObligationTerms,
        Posting,
        Transaction,
        TransactionType,
    )
    from pointsnet.network.models import Obligation
    from pointsnet.store.dynamo import to_item
    from pointsnet.store.ledger_store import BALANCE_SK, LedgerStore, StoredEntry, account_pk
    from pointsnet.store.network_store import NetworkStore

    ledger_table = environment["LEDGER_TABLE"]
    ledger = LedgerStore(ledger_table, dynamodb)
    network = NetworkStore(ledger_table, environment["DIRECTORY_TABLE"], dynamodb)
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
        items.append(ledger._entry_put(stored)["Item"])
        if transaction.obligation is not None:
            obligations += 1
            guard = network.obligation_guard(
                Obligation(
                    transaction_id=transaction.transaction_id,
                    kind="cross_partner_earn",
                    created_at=transaction.created_at,
                    terms=transaction.obligation,
                )
            )
            items.append(guard.action["Put"]["Item"])
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
