"""A ledger for the reconciliation benchmark: its tables on the local emulator, and a day in them.

The day is written as postings write it, item by item with the store's own builders
(`entry_put`, `obligation_put`), straight into the template's tables with BatchWriteItem:
earns and burns over the member accounts, every tenth earn across partners with its
obligation, entries numbered per account and each one's `balance_after` the running sum, and
each member balance where its last entry left it. The day's journal is written by the real
`JournalWriter`, batch by batch as the ledger's stream would deliver it: an INSERT record per
entry and a record per balance write. Older history (entries before the day) goes only into
the table, put straight into moto's table in the emulator's process (a million items over
BatchWriteItem would take half an hour here): a day's run reads none of its journal.

The emulator is moto's server in a child process, as `make run` runs it, with two additions:
that loader, and partition-sized queries. moto 5.2.5 answers every Query by sorting the whole
table and walking each item (6-9 s a request at a million items, measured here), where
DynamoDB reads one partition; the child hands moto's own Query code the asked partition's
items instead, so a request costs what its partition holds, and what it answers is unchanged
(moto sorts and filters them as before).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.network import process_environment
from bench.reconciliation_emulator import PartitionQueryEmulator

PARTNERS = (("starlodge", "STAR", Decimal("0.0025")), ("rideco", "RIDE", Decimal("0.01")))
CROSS_PARTNER_EVERY = 10  # every tenth earn is a partner's earn for another partner's member
BURN_EVERY = 7
BATCH_WRITE_LIMIT = 25
# Records per stream batch the journal function takes: the template's BatchSize.
STREAM_BATCH = 1000
HISTORY_DAYS = 30  # older entries are spread over the days before the day
FIRST_SEQUENCE = 10**20  # stream sequence numbers are decimal strings of about 21 digits
WRITE_THREADS = 2
WRITE_BACKLOG = 16  # requests in flight at most, so a big day is never held in memory
LOAD_LOT = 2000  # older items sent to the emulator at a time


@dataclass(frozen=True)
class LedgerShape:
    day_entries: int
    members: int
    history: int = 0  # entries before the day, spread over the members


@dataclass(frozen=True)
class Seeded:
    day: date
    entries: int
    obligations: int
    accounts: int  # member accounts the day touched
    history: int
    history_obligations: int
    journal_records: int
    journal_batches: int
    journal_objects: int
    seconds: float


# -- the emulator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmulatedLedger:
    environment: dict[str, str]  # the reconciliation function's, pointed at the emulator
    emulator: PartitionQueryEmulator


@contextlib.contextmanager
def emulated_ledger(shards: int | None = None) -> Iterator[EmulatedLedger]:
    """A fresh emulator with the template's tables (the ledger's without its stream: nothing
    here reads it, and moto would keep every record) and buckets; the reconciliation
    function's environment, set in this process too (`shards`: another JOURNAL_SHARDS)."""
    from pointsnet.local.emulator import aws_client, aws_environment, provision
    from pointsnet.local.template import LocalStack, load_template, table_definitions
    from pointsnet.observability import logger
    from pointsnet.store.dynamo import dynamodb_client
    from pointsnet.store.report_bucket import s3_client
    from pointsnet.wiring import clear_caches

    def forget_clients() -> None:
        # The shared clients keep the endpoint they were made for: this emulator's is new.
        for cached in (clear_caches, dynamodb_client.cache_clear, s3_client.cache_clear):
            cached()

    template, stack = load_template(), LocalStack()
    emulator = PartitionQueryEmulator()
    with emulator:
        dynamodb = aws_client("dynamodb", aws_environment(emulator.endpoint_url))
        for definition in table_definitions(template, stack).values():
            definition.pop("StreamSpecification", None)
            dynamodb.create_table(**definition)
        environment = provision(template, stack, emulator.endpoint_url)["ReconciliationFunction"]
        if shards is not None:
            environment["JOURNAL_SHARDS"] = str(shards)
        level = logger.log_level
        # As the function's environment has it: its INFO lines would fill the bench's output.
        logger.setLevel(environment.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
        with process_environment(environment):
            forget_clients()
            try:
                yield EmulatedLedger(environment, emulator)
            finally:
                forget_clients()
                logger.setLevel(level)


# -- the day -----------------------------------------------------------------------------------


@dataclass
class _Member:
    partner: str
    program: str
    unit_price: Decimal
    member_id: str
    account: str
    available: int = 0
    entries: int = 0  # the number of its last entry, and of balance writes
    last_entry: str | None = None  # its last entry's transaction


class _Backlog:
    """Calls run on a few threads, at most `limit` waiting; the first failure is raised."""

    def __init__(self, threads: int, limit: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.limit = limit
        self.pending: deque[Future[Any]] = deque()
        self.results: list[Any] = []

    def submit(self, call: Callable[..., Any], *args: Any) -> None:
        while len(self.pending) >= self.limit:
            self.results.append(self.pending.popleft().result())
        self.pending.append(self.pool.submit(call, *args))

    def finish(self) -> list[Any]:
        while self.pending:
            self.results.append(self.pending.popleft().result())
        self.pool.shutdown()
        return self.results


def seed(ledger: EmulatedLedger, shape: LedgerShape, day: date) -> Seeded:
    """Write `shape`'s history and day into the emulator's tables, and the day's journal: the
    history straight into moto's table, the day with BatchWriteItem."""
    from pointsnet.journal.layout import journal_shards
    from pointsnet.journal.writer import JournalWriter
    from pointsnet.ledger.accounts import member_account
    from pointsnet.local.emulator import aws_client
    from pointsnet.store.dynamo import to_item
    from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
    from pointsnet.store.ledger_items import BALANCE_SK
    from pointsnet.store.ledger_keys import account_pk

    started = time.perf_counter()
    environment = ledger.environment
    # Its items are built by the store's own code: checking each request again costs more
    # than the emulator's work.
    dynamodb = aws_client("dynamodb", environment)
    dynamodb.meta.config.parameter_validation = False
    ledger_table = environment["LEDGER_TABLE"]
    writer = JournalWriter(
        JournalBucket(environment["JOURNAL_BUCKET"], aws_client("s3", environment)),
        JournalHeads(environment["SETTLEMENT_TABLE"], dynamodb),
        journal_shards(),
    )
    members = [
        _Member(partner, program, price, member_id, member_account(partner, member_id))
        for number in range(shape.members)
        for partner, program, price in [PARTNERS[number % len(PARTNERS)]]
        for member_id in [f"m{number:07d}"]
    ]
    table = _Backlog(WRITE_THREADS, WRITE_BACKLOG)
    journal = _Backlog(1, 2)
    items: list[dict[str, Any]] = []

    def put(item: dict[str, Any]) -> None:
        items.append(item)
        if len(items) == BATCH_WRITE_LIMIT:
            table.submit(_batch_write, dynamodb, ledger_table, items.copy())
            items.clear()

    day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    history_start = day_start - timedelta(days=HISTORY_DAYS)
    history_obligations = 0
    older: list[dict[str, Any]] = []
    for number in range(shape.history):
        moment = history_start + timedelta(days=HISTORY_DAYS) * number / shape.history
        posted = _post(ledger_table, members[number % shape.members], number, moment)
        older.append(posted.item)
        if posted.obligation is not None:
            older.append(posted.obligation)
            history_obligations += 1
        if len(older) >= LOAD_LOT:
            ledger.emulator.load(ledger_table, older)
            older = []
    if older:
        ledger.emulator.load(ledger_table, older)
    ledger.emulator.loaded()

    records: list[Any] = []
    sequence = FIRST_SEQUENCE
    obligations = 0
    batches = 0
    for number in range(shape.day_entries):
        member = members[number % shape.members]
        moment = day_start + timedelta(days=1) * number / shape.day_entries
        posted = _post(ledger_table, member, -1 - number, moment)
        put(posted.item)
        if posted.obligation is not None:
            put(posted.obligation)
            obligations += 1
        records += _stream_records(posted.entry, member, sequence, moment)
        sequence += 2
        if len(records) >= STREAM_BATCH:
            journal.submit(writer.append, records)
            records, batches = [], batches + 1
    if records:
        journal.submit(writer.append, records)
        batches += 1
    for member in members:
        if member.entries == 0:
            continue
        # As the member's first posting created its balance and every later one moved it.
        put(
            to_item(
                {
                    "pk": account_pk(member.account),
                    "sk": BALANCE_SK,
                    "available": member.available,
                    "pending": 0,
                    "version": member.entries,
                    "entries": member.entries,
                    "last_entry": member.last_entry,
                    "program": member.program,
                    "partner_id": member.partner,
                    "member_id": member.member_id,
                }
            )
        )
    if items:
        table.submit(_batch_write, dynamodb, ledger_table, items.copy())
    table.finish()
    objects = sum(journal.finish())
    return Seeded(
        day=day,
        entries=shape.day_entries,
        obligations=obligations,
        accounts=min(shape.members, shape.day_entries),
        history=shape.history,
        history_obligations=history_obligations,
        journal_records=2 * shape.day_entries,
        journal_batches=batches,
        journal_objects=objects,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _Posted:
    entry: Any  # the StoredEntry, for the journal
    item: dict[str, Any]  # its item, with its ByAccount keys
    obligation: dict[str, Any] | None  # a cross-partner earn's obligation item


def _post(table: str, member: _Member, number: int, moment: datetime) -> _Posted:
    """One posting to `member` at `moment` (`number` < 0: the day's, else history's)."""
    from pointsnet.ledger.accounts import issued_account, redeemed_account
    from pointsnet.ledger.models import (
        Balance,
        Obligation,
        ObligationTerms,
        Posting,
        Transaction,
        TransactionType,
    )
    from pointsnet.ledger.port import StoredEntry
    from pointsnet.store.ledger_items import entry_put
    from pointsnet.store.network_store import obligation_put

    index = abs(number)
    points = 10 + index % 90
    burn = index % BURN_EVERY == 0 and member.available >= points
    cross = not burn and index % CROSS_PARTNER_EVERY == 0
    initiator = (
        next(other for other, _, _ in PARTNERS if other != member.partner)
        if cross
        else member.partner
    )
    reference = f"bench-{number}"
    terms = (
        ObligationTerms(
            payer=initiator,
            payee=member.partner,
            program=member.program,
            points=points,
            unit_price=member.unit_price,
            currency="USD",
        )
        if cross
        else None
    )
    transaction = Transaction(
        transaction_id="txn_" + hashlib.sha256(reference.encode()).hexdigest()[:24],
        type=TransactionType.BURN if burn else TransactionType.EARN,
        program=member.program,
        points=points,
        partner_id=member.partner,
        member_id=member.member_id,
        initiated_by=initiator,
        reference=reference,
        obligation=terms,
        created_at=moment,
        postings=(
            (
                Posting(account=member.account, points=-points),
                Posting(account=redeemed_account(member.program), points=points),
            )
            if burn
            else (
                Posting(account=issued_account(member.program), points=-points),
                Posting(account=member.account, points=points),
            )
        ),
    )
    member.available += -points if burn else points
    member.entries += 1
    stored = StoredEntry(
        transaction=transaction,
        balance_after=Balance(program=member.program, available=member.available),
        fingerprint=hashlib.sha256(reference.encode()).hexdigest(),
        account=member.account,
        number=member.entries,
        previous=member.last_entry,
    )
    member.last_entry = transaction.transaction_id
    # The very items a posting writes.
    item = entry_put(table, stored)["Item"]
    if terms is None:
        return _Posted(stored, item, None)
    obligation = Obligation(
        transaction_id=transaction.transaction_id,
        kind="cross_partner_earn",
        created_at=moment,
        terms=terms,
        account=member.account,
    )
    return _Posted(stored, item, obligation_put(table, obligation)["Put"]["Item"])


def _stream_records(stored: Any, member: _Member, sequence: int, moment: datetime) -> list[Any]:
    """The two stream records of a posting: its entry's INSERT and its balance's write."""
    from pointsnet.journal.records import BalanceImage, JournalEvent, JournalRecord

    return [
        JournalRecord(
            sequence=str(sequence),
            event=JournalEvent.INSERT,
            recorded_at=moment,
            transaction_id=stored.transaction.transaction_id,
            entry=stored,
        ),
        JournalRecord(
            sequence=str(sequence + 1),
            event=JournalEvent.INSERT if member.entries == 1 else JournalEvent.MODIFY,
            recorded_at=moment,
            account=member.account,
            balance=BalanceImage(
                account=member.account,
                available=member.available,
                pending=0,
                entries=member.entries,
            ),
        ),
    ]


def _batch_write(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items]}
    while pending:
        pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
