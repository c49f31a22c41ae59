"""Reconciliation of a day on the local emulator: what it reads, how long, and what it costs.

1. Reads per period entry as the ledger grows: one day of entries on a ledger of 10k, 100k
   and 1M older entries (`bench.reconciliation_seed` writes them), reconciled with metered
   clients: DynamoDB read units priced from each response, S3 bytes from each GetObject.
2. A big day as the state machine runs it: the plan step, then each item (a journal shard of
   the day) checked in a worker process of its own (two at a time, a fresh process each, as
   Lambda gives each child of the Distributed Map its own), then the settle step.
3. and 4. A 10M-entry day on AWS, projected from the per-child rate, and its cost.

The figures are the emulator's: moto's latency per request is not DynamoDB's or S3's.
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.capacity import item_size, read_units, write_units
from bench.prices import LIST_PRICES, MILLION, RUN_PRICES, Prices, RunPrices
from bench.reconciliation_seed import LedgerShape, Seeded, emulated_ledger, seed
from bench.report import Row, at_most

HISTORY_SIZES = (10_000, 100_000, 1_000_000)
FLAT_DAY_ENTRIES = 10_000
# The issue asks for a day of 1M; on the 2-core bench machine moto seeds and checks about
# 100k entries in 20 minutes, so `make bench` measures the largest day that fits in ~25 and
# extrapolates (the report says so).
BIG_DAY_ENTRIES = 150_000
ENTRIES_PER_MEMBER = 2  # a day's entries per member account it touches
CHILD_PROCESSES = 2
PROJECTED_DAY_ENTRIES = 10_000_000
COST_DAY_ENTRIES = 1_000_000
STREAM_SHARDS = 10  # assumed shards of the ledger table's stream


# -- metering the SDK's requests -----------------------------------------------------------------


@dataclass
class RequestMeter:
    """DynamoDB request units and S3 requests and bytes, priced from each call's request and
    response (moto reports no ConsumedCapacity).

    Item sizes follow DynamoDB's rules on each item's typed JSON as it crossed the wire
    (`bench.capacity.item_size`: names plus values, a number 1 byte per two digits plus 1, a
    map or list 3 bytes plus 1 per element). GetItem: ceil(size / 4 KB) units, at least 1 (also
    for a missing item), half for an eventually consistent read; BatchGetItem the same per key;
    Query: ceil(sum of the items' sizes / 4 KB), at least 1, half when eventually consistent
    (every index query). A projection is charged as the item returned, at least one block:
    exact for the items read here (a balance is far under 4 KB). Writes: ceil(size / 1 KB) of
    the item put, or of an update's key and values.
    """

    read_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    write_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    s3_get_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def install(self, events: Any) -> None:
        """On a client's or a session's event emitter (a session's: clients made after it)."""
        events.register("provide-client-params.dynamodb", self._keep_params)
        events.register("after-call.dynamodb", self._dynamodb)
        events.register("after-call.s3", self._s3)

    def figures(self) -> dict[str, Any]:
        """What was counted, in a form that crosses a process boundary."""
        return {
            "read_units": dict(self.read_units),
            "write_units": dict(self.write_units),
            "calls": dict(self.calls),
            "s3_get_bytes": self.s3_get_bytes,
        }

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def _dynamodb(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        params = context.pop("bench_params", {})
        operation = model.name
        reads: list[tuple[str, float]] = []
        writes: list[tuple[str, float]] = []
        tables = params.get("RequestItems", {}) if operation == "BatchGetItem" else {}
        where = _short(params.get("IndexName") or params.get("TableName") or ",".join(tables))
        if operation == "GetItem":
            consistent = bool(params.get("ConsistentRead"))
            reads.append((where, read_units(item_size(parsed.get("Item")), consistent)))
        elif operation == "BatchGetItem":
            for table, request in params.get("RequestItems", {}).items():
                consistent = bool(request.get("ConsistentRead"))
                found = parsed.get("Responses", {}).get(table, [])
                left = parsed.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
                missing = len(request["Keys"]) - len(found) - len(left)
                units = sum(read_units(item_size(item), consistent) for item in found)
                reads.append((_short(table), units + missing * read_units(0, consistent)))
        elif operation in ("Query", "Scan"):
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            size = sum(item_size(item) for item in parsed.get("Items", []))
            reads.append((where, read_units(size, consistent)))
        elif operation == "PutItem":
            writes.append((where, write_units(item_size(params["Item"]))))
        elif operation in ("UpdateItem", "DeleteItem"):
            size = item_size(params["Key"]) + item_size(params.get("ExpressionAttributeValues"))
            writes.append((where, write_units(size)))
        with self.lock:
            self.calls[f"{operation} {where}"] += 1
            for label, units in reads:
                self.read_units[f"{operation} {label}"] += units
            for label, units in writes:
                self.write_units[f"{operation} {label}"] += units

    def _s3(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        with self.lock:
            self.calls[f"s3 {model.name}"] += 1
            if model.name == "GetObject":
                self.s3_get_bytes += int(parsed.get("ContentLength", 0))


def _short(name: str) -> str:
    """`pointsnet-local-LedgerTable` reads `LedgerTable`; an index name stays as it is."""
    return name.rsplit("-", 1)[-1]


@dataclass(frozen=True)
class Metered:
    read_units: dict[str, float]
    write_units: dict[str, float]
    calls: dict[str, int]
    s3_get_bytes: int

    @classmethod
    def of(cls, *parts: Mapping[str, Any]) -> Metered:
        reads: dict[str, float] = defaultdict(float)
        writes: dict[str, float] = defaultdict(float)
        calls: Counter[str] = Counter()
        for part in parts:
            for label, units in part["read_units"].items():
                reads[label] += units
            for label, units in part["write_units"].items():
                writes[label] += units
            calls.update(part["calls"])
        total = sum(part["s3_get_bytes"] for part in parts)
        return cls(dict(reads), dict(writes), dict(calls), total)

    @property
    def total_read_units(self) -> float:
        return sum(self.read_units.values())

    @property
    def total_write_units(self) -> float:
        return sum(self.write_units.values())

    def count(self, prefix: str) -> int:
        return sum(number for label, number in self.calls.items() if label.startswith(prefix))

    def ledger_read_units(self) -> float:
        """Units read from the ledger table and its index: they grow with the day's entries."""
        return sum(
            units
            for label, units in self.read_units.items()
            if label.endswith(("LedgerTable", "ByAccount"))
        )


# -- 1. reads per entry as the ledger grows --------------------------------------------------


@dataclass(frozen=True)
class FlatRun:
    history: int
    seeded: Seeded
    metered: Metered
    seconds: float
    transactions: int
    obligations: int
    accounts: int
    checks_ok: bool

    @property
    def read_units_per_entry(self) -> float:
        return self.metered.total_read_units / self.seeded.entries

    @property
    def s3_bytes_per_entry(self) -> float:
        return self.metered.s3_get_bytes / self.seeded.entries


def measure_flat(
    history: int, day_entries: int = FLAT_DAY_ENTRIES, shards: int | None = None
) -> FlatRun:
    """One day reconciled in this process (checks one at a time) through metered clients."""
    from pointsnet.settlement.models import Period

    day = _yesterday()
    shape = LedgerShape(day_entries, _members(day_entries), history)
    with emulated_ledger(shards) as ledger:
        seeded = seed(ledger, shape, day)
        meter = RequestMeter()
        reconciler = metered_reconciler(ledger.environment, meter)
        started = time.perf_counter()
        outcome = reconciler.reconcile(Period(period_start=day, period_end=day))
        seconds = time.perf_counter() - started
    settlement = outcome.settlement
    if settlement is None or settlement.run is None:
        raise RuntimeError("the reconciliation run did not finish")
    run = settlement.run
    _expect(run.transactions, run.obligations, seeded)
    return FlatRun(
        history=history,
        seeded=seeded,
        metered=Metered.of(meter.figures()),
        seconds=seconds,
        transactions=run.transactions,
        obligations=run.obligations,
        accounts=run.accounts_checked,
        checks_ok=all(check.ok for check in settlement.checks),
    )


def metered_reconciler(environment: Mapping[str, str], meter: RequestMeter) -> Any:
    """The reconciliation function's `Reconciler`, as `wiring.default_reconciler` builds it
    from `environment`, on clients `meter` counts; its checks one at a time."""
    from pointsnet.journal.layout import journal_shards
    from pointsnet.local.emulator import aws_client
    from pointsnet.settlement.run import Reconciler
    from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
    from pointsnet.store.ledger_day_reader import LedgerDayReader
    from pointsnet.store.report_bucket import ReportBucket
    from pointsnet.store.settlement_store import SettlementStore

    dynamodb, s3 = aws_client("dynamodb", environment), aws_client("s3", environment)
    meter.install(dynamodb.meta.events)
    meter.install(s3.meta.events)
    settlement_table = environment["SETTLEMENT_TABLE"]
    return Reconciler(
        SettlementStore(settlement_table, dynamodb),
        LedgerDayReader(environment["LEDGER_TABLE"], dynamodb, journal_shards()),
        (
            JournalBucket(environment["JOURNAL_BUCKET"], s3),
            JournalHeads(settlement_table, dynamodb),
        ),
        ReportBucket(environment["REPORTS_BUCKET"], s3),
        currency=environment.get("SETTLEMENT_CURRENCY", "USD"),
        shards=journal_shards(),
        workers=1,
    )


def _expect(transactions: int, obligations: int, seeded: Seeded) -> None:
    if (transactions, obligations) != (seeded.entries, seeded.obligations):
        raise RuntimeError(
            f"the run read {transactions} entries and {obligations} obligations, "
            f"not the {seeded.entries} and {seeded.obligations} seeded"
        )


def _members(day_entries: int) -> int:
    return max(1, day_entries // ENTRIES_PER_MEMBER)


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


# -- 2. a big day, as the state machine runs it ----------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """One check step in a worker process of its own."""

    shard: int
    entries: int
    init_seconds: float  # imports and wiring, as a cold Lambda's init
    seconds: float  # the check step itself
    cpu_seconds: float  # of it, this process's own CPU time
    rss_before: int  # peak resident bytes before the check (interpreter, libraries, clients)
    rss_peak: int  # the process's peak resident bytes, the check included
    metered: dict[str, Any]
    traced_peak: int = 0  # the check's peak of Python allocations (when traced)

    @property
    def requests(self) -> int:
        return sum(self.metered["calls"].values())


@dataclass(frozen=True)
class BigDay:
    seeded: Seeded
    processes: int
    plan_seconds: float
    checks_seconds: float
    settle_seconds: float
    children: list[ChildRun]
    traced: ChildRun  # the largest shard checked again, with tracemalloc on
    parent: dict[str, Any]  # what the plan and settle steps' requests were metered at
    transactions: int
    obligations: int
    checks_ok: bool

    @property
    def wall_seconds(self) -> float:
        return self.plan_seconds + self.checks_seconds + self.settle_seconds

    @property
    def child_rate(self) -> float:
        """Entries per second per child, over all of its check steps."""
        return sum(child.entries for child in self.children) / sum(
            child.seconds for child in self.children
        )

    @property
    def peak_rss(self) -> int:
        return max(child.rss_peak for child in self.children)

    @property
    def traced_per_entry(self) -> float:
        """What a check holds at its peak per entry of its shard (from the largest shard)."""
        return self.traced.traced_peak / max(1, self.traced.entries)

    def peak_at(self, entries_per_shard: float) -> float:
        """A child's peak for a shard of `entries_per_shard`: the process before its check
        and the check's traced peak, scaled."""
        before = max(child.rss_before for child in self.children)
        return max(before + self.traced_per_entry * entries_per_shard, self.peak_rss)

    @property
    def requests_per_entry(self) -> float:
        return sum(child.requests for child in self.children) / self.seeded.entries

    @property
    def mean_init_seconds(self) -> float:
        return sum(child.init_seconds for child in self.children) / len(self.children)

    @property
    def metered(self) -> Metered:
        return Metered.of(*(child.metered for child in self.children), self.parent)


def measure_big_day(
    entries: int = BIG_DAY_ENTRIES,
    processes: int = CHILD_PROCESSES,
    progress: Callable[[str], None] = lambda _: None,
    shards: int | None = None,
) -> BigDay:
    """Seed a day of `entries` (each member with one entry before it), then plan, check every
    shard in its own process, and settle, with the reconciliation function's environment."""
    from pointsnet.settlement.steps import run_step

    day = _yesterday()
    members = _members(entries)
    with emulated_ledger(shards) as ledger:
        seeded = seed(ledger, LedgerShape(entries, members, history=members), day)
        progress(f"reconciliation: {entries} entries seeded in {seeded.seconds:.0f} s; checking")
        meter = RequestMeter()
        reconciler = metered_reconciler(ledger.environment, meter)
        started = time.perf_counter()
        plan = run_step(
            {"step": "plan", "run": {"period_start": str(day), "period_end": str(day)}},
            reconciler,
        )
        plan_seconds = time.perf_counter() - started
        tasks = [(plan["run_id"], item, False) for item in plan["items"]]
        context = multiprocessing.get_context("spawn")
        started = time.perf_counter()
        with context.Pool(processes, maxtasksperchild=1) as pool:
            children = pool.map(check_in_child, tasks, chunksize=1)
        checks_seconds = time.perf_counter() - started
        largest = max(children, key=lambda child: child.entries)
        progress(f"reconciliation: shard {largest.shard} checked again, its memory traced")
        with context.Pool(1, maxtasksperchild=1) as pool:
            # The same check again writes the same tally: the settle step sees one per shard.
            item = next(item for item in plan["items"] if item["shard"] == largest.shard)
            traced = pool.apply(check_in_child, ((plan["run_id"], item, True),))
        started = time.perf_counter()
        answer = run_step({"step": "settle", "run_id": plan["run_id"]}, reconciler)
        settle_seconds = time.perf_counter() - started
        settlement = reconciler.store.get(answer["settlement_id"])
    if settlement is None or settlement.run is None:
        raise RuntimeError("the settle step wrote no settlement")
    _expect(settlement.run.transactions, settlement.run.obligations, seeded)
    return BigDay(
        seeded=seeded,
        processes=processes,
        plan_seconds=plan_seconds,
        checks_seconds=checks_seconds,
        settle_seconds=settle_seconds,
        children=children,
        traced=traced,
        parent=meter.figures(),
        transactions=settlement.run.transactions,
        obligations=settlement.run.obligations,
        checks_ok=all(check.ok for check in settlement.checks),
    )


def check_in_child(task: tuple[str, dict[str, Any], bool]) -> ChildRun:
    """A worker process's one check step, as a Distributed Map child's Lambda runs it; with
    `traced` (the task's third part), under tracemalloc, whose peak it reports."""
    started = time.perf_counter()
    import tracemalloc

    import boto3

    from pointsnet.settlement.steps import run_step
    from pointsnet.store.dynamo import dynamodb_client
    from pointsnet.store.report_bucket import s3_client
    from pointsnet.wiring import default_reconciler

    run_id, item, traced = task
    meter = RequestMeter()
    # Before any client is made: each copies the session's handlers when it is created.
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    meter.install(boto3.DEFAULT_SESSION.events)
    reconciler = default_reconciler()
    # Its clients are made on first use: here, as a Lambda's init would, not in the check.
    dynamodb_client(), s3_client()
    rss_before = _peak_rss()
    if traced:
        tracemalloc.start()
    checking, cpu = time.perf_counter(), time.process_time()
    answer = run_step({"step": "check", "run_id": run_id, "item": item}, reconciler)
    seconds, cpu_seconds = time.perf_counter() - checking, time.process_time() - cpu
    traced_peak = tracemalloc.get_traced_memory()[1] if traced else 0
    tracemalloc.stop()
    return ChildRun(
        shard=int(answer["shard"]),
        entries=int(answer["entries"]),
        init_seconds=checking - started,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        rss_before=rss_before,
        rss_peak=_peak_rss(),
        metered=meter.figures(),
        traced_peak=traced_peak,
    )


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts KiB


# -- all of it -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """What template.yaml sets for a run on AWS."""

    shards: int
    max_concurrency: int
    memory_mb: int
    architecture: str
    batching_seconds: int
    stream_batch: int


@dataclass(frozen=True)
class ReconciliationFigures:
    flat: list[FlatRun]
    big: BigDay
    deployment: Deployment


def measure_reconciliation(
    histories: tuple[int, ...] = HISTORY_SIZES,
    big_day: int = BIG_DAY_ENTRIES,
    flat_day: int = FLAT_DAY_ENTRIES,
    processes: int = CHILD_PROCESSES,
    progress: Callable[[str], None] = lambda _: None,
    shards: int | None = None,
) -> ReconciliationFigures:
    """Every figure; `shards` other than the template's JournalShards only for a quick test
    (the projection and costs keep the template's)."""
    flat = []
    for history in histories:
        progress(f"reconciliation: a day of {flat_day} entries on {history} older ones")
        flat.append(measure_flat(history, flat_day, shards))
    progress(f"reconciliation: a day of {big_day} entries, {processes} worker processes")
    big = measure_big_day(big_day, processes, progress, shards)
    return ReconciliationFigures(flat, big, deployment())


def deployment() -> Deployment:
    from bench.network import function_facts
    from pointsnet.local.template import load_template

    template = load_template()
    resources = template["Resources"]
    states = resources["ReconciliationStateMachine"]["Properties"]["Definition"]["States"]
    facts = function_facts("ReconciliationFunction")
    stream = resources["JournalFunction"]["Properties"]["Events"]["LedgerStream"]["Properties"]
    return Deployment(
        shards=int(template["Parameters"]["JournalShards"]["Default"]),
        max_concurrency=int(states["CheckShards"]["MaxConcurrency"]),
        memory_mb=facts.memory_mb,
        architecture=facts.architecture,
        batching_seconds=int(template["Parameters"]["JournalBatchingSeconds"]["Default"]),
        stream_batch=int(stream["BatchSize"]),
    )


def head_item_bytes() -> int:
    """A journal head as `JournalHeads.advance` writes it once its recent list is full."""
    from pointsnet.journal.ports import RECENT_OBJECTS
    from pointsnet.store.dynamo import to_item

    digest = "0" * 64
    head = {
        "pk": "JOURNAL#2026-12-01#0000",
        "sk": "HEAD",
        "position": 20_000,
        "digest": digest,
        "recent": [digest] * RECENT_OBJECTS,
    }
    return item_size(to_item(head))


# -- 3. a 10M-entry day on AWS, and 4. what a day costs ------------------------------------


@dataclass(frozen=True)
class Projection:
    day_entries: int
    shards: int
    max_concurrency: int
    rate: float  # entries per second per child, measured
    init_seconds: float
    plan_seconds: float
    settle_seconds: float

    @property
    def entries_per_child(self) -> float:
        return self.day_entries / self.shards

    @property
    def child_seconds(self) -> float:
        return self.entries_per_child / self.rate

    @property
    def waves(self) -> int:
        return math.ceil(self.shards / self.max_concurrency)

    @property
    def total_seconds(self) -> float:
        each = self.init_seconds + self.child_seconds
        return self.plan_seconds + self.waves * each + self.settle_seconds


def projection(
    figures: ReconciliationFigures, day_entries: int = PROJECTED_DAY_ENTRIES
) -> Projection:
    big, deployed = figures.big, figures.deployment
    return Projection(
        day_entries=day_entries,
        shards=deployed.shards,
        max_concurrency=deployed.max_concurrency,
        rate=big.child_rate,
        init_seconds=big.mean_init_seconds,
        plan_seconds=big.plan_seconds,
        settle_seconds=big.settle_seconds,
    )


@dataclass(frozen=True)
class DayCost:
    """One day's run on AWS at list prices, scaled from the measured big day."""

    day_entries: int
    gb_seconds: float
    invocations: int
    transitions: int
    s3_gets: float
    s3_lists: int
    s3_puts: int
    read_units: float
    write_units: float
    lambda_duration: Decimal
    lambda_requests: Decimal
    step_functions: Decimal
    s3: Decimal
    dynamodb_reads: Decimal
    dynamodb_writes: Decimal

    @property
    def total(self) -> Decimal:
        return (
            self.lambda_duration
            + self.lambda_requests
            + self.step_functions
            + self.s3
            + self.dynamodb_reads
            + self.dynamodb_writes
        )

    @property
    def per_million(self) -> Decimal:
        return self.total * MILLION / self.day_entries


def day_cost(
    figures: ReconciliationFigures,
    day_entries: int = COST_DAY_ENTRIES,
    prices: Prices = LIST_PRICES,
    run_prices: RunPrices = RUN_PRICES,
) -> DayCost:
    """What grows with the day (check durations, journal GETs, ledger reads) scaled from the
    measured day; what does not (plan, settle, inits, the run's items and writes) as it was."""
    big, deployed = figures.big, figures.deployment
    scale = day_entries / big.seeded.entries
    items = deployed.shards
    seconds = (
        sum(child.seconds for child in big.children) * scale
        + items * big.mean_init_seconds
        + big.plan_seconds
        + big.settle_seconds
    )
    gb_seconds = seconds * deployed.memory_mb / 1024
    metered = big.metered
    gets = metered.count("s3 GetObject") * scale
    lists = items * max(1, math.ceil(gets / items / 1000))  # a LIST page holds 1,000 keys
    puts = metered.count("s3 PutObject")
    ledger_reads = metered.ledger_read_units()
    reads = ledger_reads * scale + metered.total_read_units - ledger_reads
    writes = metered.total_write_units
    invocations = items + 2
    transitions = 3 + items  # Plan, CheckShards, Settle; each child execution's CheckShard
    thousand = Decimal(1000)
    return DayCost(
        day_entries=day_entries,
        gb_seconds=gb_seconds,
        invocations=invocations,
        transitions=transitions,
        s3_gets=gets,
        s3_lists=lists,
        s3_puts=puts,
        read_units=reads,
        write_units=writes,
        lambda_duration=_decimal(gb_seconds) * prices.gb_second(deployed.architecture),
        lambda_requests=invocations * prices.lambda_request_per_million / MILLION,
        step_functions=transitions * run_prices.step_functions_transition_per_thousand / thousand,
        s3=(
            _decimal(gets) * run_prices.s3_get_per_thousand
            + lists * run_prices.s3_list_per_thousand
            + puts * run_prices.s3_put_per_thousand
        )
        / thousand,
        dynamodb_reads=_decimal(reads) * prices.dynamodb_read_per_million / MILLION,
        dynamodb_writes=_decimal(writes) * prices.dynamodb_write_per_million / MILLION,
    )


@dataclass(frozen=True)
class JournalCost:
    """The journal function's S3 PUTs and chain-head items for a day of `day_entries`."""

    day_entries: int
    records: float
    batches: int
    window_bound: bool  # the batching window, not the batch size, ends each batch
    objects_per_batch: float
    head_write_units: int
    puts: Decimal
    head_writes: Decimal
    head_reads: Decimal

    @property
    def objects(self) -> float:
        return self.batches * self.objects_per_batch

    @property
    def per_million(self) -> Decimal:
        return (self.puts + self.head_writes + self.head_reads) * MILLION / self.day_entries


def journal_cost(
    day_entries: int,
    records_per_entry: float,
    deployed: Deployment,
    prices: Prices = LIST_PRICES,
    run_prices: RunPrices = RUN_PRICES,
) -> JournalCost:
    """Each stream batch writes one object per shard it touches, and per object reads and
    moves that shard's head (a GetItem, strongly consistent, and a PutItem)."""
    records = day_entries * records_per_entry
    windows = STREAM_SHARDS * 86_400 // deployed.batching_seconds
    batches = max(math.ceil(records / deployed.stream_batch), windows)
    per_batch = records / batches
    # The shards a batch touches: its records fall on accounts spread evenly over the shards.
    touched = deployed.shards * (1 - (1 - 1 / deployed.shards) ** per_batch)
    objects = _decimal(batches * touched)
    head_units = write_units(head_item_bytes())
    return JournalCost(
        day_entries=day_entries,
        records=records,
        batches=batches,
        window_bound=batches == windows,
        objects_per_batch=touched,
        head_write_units=head_units,
        puts=objects * run_prices.s3_put_per_thousand / 1000,
        head_writes=objects * head_units * prices.dynamodb_write_per_million / MILLION,
        head_reads=objects * prices.dynamodb_read_per_million / MILLION,
    )


def _decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


# -- the report ----------------------------------------------------------------------------

FLAT_TARGET = 1.1
WALL_TARGET_SECONDS = 15 * 60
CHILD_MEMORY_TARGET_MIB = 256
COST_TARGET = Decimal("1.00")
TARGET_DAY_ENTRIES = 1_000_000


def reconciliation_rows(figures: ReconciliationFigures) -> tuple[list[Row], list[str]]:
    rows = [_flat_row(figures.flat), _big_day_row(figures), _projection_row(figures)]
    cost = day_cost(figures)
    rows.append(_cost_row(cost, figures.deployment))
    seeded = figures.big.seeded
    records_per_entry = seeded.journal_records / seeded.entries
    journals = [
        journal_cost(entries, records_per_entry, figures.deployment)
        for entries in (COST_DAY_ENTRIES, PROJECTED_DAY_ENTRIES)
    ]
    rows.append(_journal_row(journals))
    return rows, _notes(figures, cost, journals)


def _flat_row(runs: list[FlatRun]) -> Row:
    figure = (
        "reconciliation: DynamoDB read units and S3 bytes read per period entry, a day of "
        f"{_count(runs[0].seeded.entries) if runs else '?'} on a ledger of "
        + " / ".join(_count(run.history) for run in runs)
        + " older entries"
    )
    measured = "; ".join(
        f"{_count(run.history)}: {run.read_units_per_entry:.3f} RCU, "
        f"{run.s3_bytes_per_entry:,.0f} B" + ("" if run.checks_ok else " (checks FAIL)")
        for run in runs
    )
    target = f"flat: ≤ {FLAT_TARGET}x from the smallest ledger to the largest"
    if len(runs) < 2:
        return Row(figure, measured, target, "not judged (one ledger size)")
    first, last = runs[0], runs[-1]
    units = last.read_units_per_entry / first.read_units_per_entry
    bytes_ = last.s3_bytes_per_entry / first.s3_bytes_per_entry
    measured += (
        f"; {_count(last.history)}/{_count(first.history)} = {units:.3f}x RCU, {bytes_:.3f}x bytes"
    )
    verdict = at_most(max(units, bytes_), FLAT_TARGET, "x", 3)
    if not all(run.checks_ok for run in runs):
        verdict += "; a check FAILED"
    return Row(figure, measured, target, verdict)


def _big_day_row(figures: ReconciliationFigures) -> Row:
    big = figures.big
    entries = big.seeded.entries
    measured = (
        f"measured {entries:,} entries ({big.seeded.accounts:,} accounts): "
        f"{big.wall_seconds:.0f} s wall = plan {big.plan_seconds:.1f} s + "
        f"{len(big.children)} checks {big.checks_seconds:.0f} s on {big.processes} processes + "
        f"settle {big.settle_seconds:.1f} s; peak RSS per child max {_mib(big.peak_rss)} "
        f"({_mib(min(child.rss_before for child in big.children))} before its check); checks "
        + ("pass" if big.checks_ok else "FAIL")
    )
    wall, peak = _at_target_day(big)
    if entries < TARGET_DAY_ENTRIES:
        measured += (
            f"; extrapolated to {_count(TARGET_DAY_ENTRIES)}: {wall:.0f} s wall, "
            f"peak ≈ {_mib(peak)} per child"
        )
    verdict = (
        ("" if entries >= TARGET_DAY_ENTRIES else "extrapolated: ")
        + "wall "
        + at_most(wall / 60, WALL_TARGET_SECONDS / 60, " min", 1)
        + "; memory "
        + at_most(peak / 2**20, CHILD_MEMORY_TARGET_MIB, " MiB", 0)
    )
    return Row(
        f"reconciliation: a day of {_count(TARGET_DAY_ENTRIES)} entries on 2 cores, wall time "
        "and peak memory per child",
        measured,
        f"≤ {WALL_TARGET_SECONDS // 60} min; ≤ {CHILD_MEMORY_TARGET_MIB} MB per child",
        verdict,
    )


def _at_target_day(big: BigDay) -> tuple[float, float]:
    """Wall time and per-child peak for a day of TARGET_DAY_ENTRIES: the checks' own time
    and each child's growth per entry scaled, process starts and inits as measured."""
    scale = max(1.0, TARGET_DAY_ENTRIES / big.seeded.entries)
    checking = sum(child.seconds for child in big.children) / big.processes
    fixed = big.checks_seconds - checking
    wall = big.plan_seconds + fixed + checking * scale + big.settle_seconds
    largest = max(big.children, key=lambda child: child.entries)
    return wall, big.peak_at(largest.entries * scale)


def _projection_row(figures: ReconciliationFigures) -> Row:
    plan = projection(figures)
    measured = (
        f"{plan.day_entries:,} / {plan.shards} shards = {plan.entries_per_child:,.0f} entries "
        f"per child ÷ {plan.rate:,.0f} entries/s per child (measured) = "
        f"{plan.child_seconds:,.0f} s; waves = ceil({plan.shards} / {plan.max_concurrency}) = "
        f"{plan.waves}; {plan.waves} x ({plan.child_seconds:,.0f} s + init "
        f"{plan.init_seconds:.1f} s) + plan {plan.plan_seconds:.1f} s + settle "
        f"{plan.settle_seconds:.1f} s = {plan.total_seconds:,.0f} s "
        f"({plan.total_seconds / 60:.1f} min)"
    )
    return Row(
        f"reconciliation: projected AWS time for a {_count(plan.day_entries)}-entry day "
        f"(MaxConcurrency {plan.max_concurrency}, JournalShards {plan.shards})",
        measured,
        f"≤ {WALL_TARGET_SECONDS // 60} min",
        at_most(plan.total_seconds / 60, WALL_TARGET_SECONDS / 60, " min", 1),
    )


def _cost_row(cost: DayCost, deployed: Deployment) -> Row:
    per = cost.day_entries / 1_000_000

    def share(amount: Decimal) -> str:
        return _money(amount / _decimal(per))

    measured = (
        f"{_money(cost.per_million)} = Lambda {share(cost.lambda_duration)} "
        f"({cost.gb_seconds:,.0f} GB-s at {deployed.memory_mb} MB {deployed.architecture}) + "
        f"{share(cost.lambda_requests)} ({cost.invocations} invocations) + Step Functions "
        f"{share(cost.step_functions)} ({cost.transitions} transitions) + S3 {share(cost.s3)} "
        f"({cost.s3_gets:,.0f} GET, {cost.s3_lists} LIST, {cost.s3_puts} PUT; bytes in-region "
        f"free) + DynamoDB {share(cost.dynamodb_reads)} reads ({cost.read_units:,.0f} RCU) + "
        f"{share(cost.dynamodb_writes)} writes ({cost.write_units:,.0f} WCU)"
    )
    return Row(
        f"reconciliation: cost per million entries, a day of {_count(cost.day_entries)} "
        "(list prices)",
        measured,
        f"≤ {_money(COST_TARGET)}",
        _money_verdict(cost.per_million, COST_TARGET),
    )


def _journal_row(costs: list[JournalCost]) -> Row:
    parts = []
    for cost in costs:
        why = "window-bound" if cost.window_bound else "full batches"
        parts.append(
            f"day of {_count(cost.day_entries)}: {_money(cost.per_million)}/M "
            f"({cost.batches:,} stream batches, {why}, x {cost.objects_per_batch:.1f} "
            f"objects = {cost.objects:,.0f} PUT {_money(cost.puts)} + head writes "
            f"{cost.head_write_units} WCU each {_money(cost.head_writes)} + head reads "
            f"{_money(cost.head_reads)})"
        )
    verdict = "; ".join(
        f"{_count(cost.day_entries)}: " + _money_verdict(cost.per_million, COST_TARGET)
        for cost in costs
    )
    return Row(
        "journal: its own write cost per million entries (PUT per shard and stream batch, "
        "chain heads)",
        "; ".join(parts),
        f"≤ {_money(COST_TARGET)}",
        verdict,
    )


def _notes(figures: ReconciliationFigures, cost: DayCost, journals: list[JournalCost]) -> list[str]:
    big, deployed = figures.big, figures.deployment
    flat = "; ".join(
        f"{_count(run.history)} older entries: {run.transactions} entries and "
        f"{run.obligations} obligations read, {run.accounts} accounts checked, "
        f"{run.metered.count('s3 GetObject')} journal objects, "
        f"{run.metered.total_read_units:,.0f} RCU ("
        + ", ".join(f"{label} {units:g}" for label, units in sorted(run.metered.read_units.items()))
        + f"), seeded in {run.seeded.seconds:.0f} s, run {run.seconds:.0f} s"
        for run in figures.flat
    )
    at_1m, at_10m = (
        big.peak_at(entries / deployed.shards)
        for entries in (TARGET_DAY_ENTRIES, PROJECTED_DAY_ENTRIES)
    )
    plan = projection(figures)
    cpu_share = sum(child.cpu_seconds for child in big.children) / sum(
        child.seconds for child in big.children
    )
    requests_per_child = big.requests_per_entry * plan.entries_per_child
    objects_per_child = (
        big.metered.count("s3 GetObject") / big.seeded.entries * (plan.entries_per_child)
    )
    seeded = big.seeded
    sizing = (
        f"measured {seeded.entries:,} entries, not {_count(TARGET_DAY_ENTRIES)}: on this "
        f"machine it seeded in {seeded.seconds:.0f} s and checked in {big.checks_seconds:.0f} s, "
        f"so {_count(TARGET_DAY_ENTRIES)} would take about "
        f"{(seeded.seconds + big.checks_seconds) * TARGET_DAY_ENTRIES / seeded.entries / 60:.0f} "
        "min; figures for it are extrapolated from the per-child rate and the traced memory "
        "per entry. "
        if seeded.entries < TARGET_DAY_ENTRIES
        else ""
    )
    return [
        "Reconciliation, reads per entry: each ledger gets a day of entries over member accounts "
        f"that post {ENTRIES_PER_MEMBER} entries each that day, every tenth earn across "
        "partners with its obligation. The older entries (spread over the 30 days before) are "
        "put straight into moto's table in the emulator's process; the day is written with "
        "BatchWriteItem, item by item as postings write them, and into its journal by "
        f"`JournalWriter`, in stream batches of {deployed.stream_batch} records (an entry's "
        "INSERT and its balance's write each). One `Reconciler.reconcile` in the "
        "bench process, checks one at a time, on clients whose botocore events "
        "(`provide-client-params` / `after-call`) price every DynamoDB response by DynamoDB's "
        "rules (GetItem and BatchGetItem ceil(item size / 4 KB) per item, at least 1, half when "
        "eventually consistent; Query ceil(sum of returned item sizes / 4 KB), at least 1, half "
        "when eventually consistent, as every ByAccount query is), item sizes from each item's "
        "typed JSON as it came over the wire (attribute names plus values, a number 1 byte per "
        "2 digits plus 1, maps and lists 3 bytes plus 1 per element); S3 bytes are the "
        f"ContentLength of every GetObject. {flat}.",
        f"Reconciliation, big day: {sizing}Each member account posts {ENTRIES_PER_MEMBER} "
        "entries that day and had one entry the day before. The plan and settle steps run in "
        f"the bench process; each of the {len(big.children)} items (a journal shard of the "
        f"day) runs `run_step({{'step': 'check', ...}})` in a spawned worker process of its "
        f"own ({big.processes} at a time, maxtasksperchild=1), which builds its Reconciler "
        "with `wiring.default_reconciler()` from the function's environment; its imports, "
        f"wiring and clients (init, {big.mean_init_seconds:.2f} s mean) are timed apart from "
        "the check. Peak memory is the process's ru_maxrss (the interpreter, boto3, pydantic "
        "and the check: what Lambda's Max Memory Used reports); a check holds its whole "
        f"shard's records, so the largest shard ({big.traced.entries:,} entries) was checked "
        "again in a fresh process under tracemalloc: its peak (fixed allocations included, so "
        "per entry an upper bound), "
        f"{_mib(big.traced.traced_peak)}, is {big.traced_per_entry / 1024:.1f} KiB per entry, "
        f"which puts a child at ≈ {_mib(at_1m)} for a day of {_count(TARGET_DAY_ENTRIES)} and "
        f"≈ {_mib(at_10m)} for {_count(PROJECTED_DAY_ENTRIES)} (MemorySize "
        f"{deployed.memory_mb} MB). The emulator is moto's server in a third process on the "
        "same 2 cores, with DynamoDB requests taken one at a time.",
        "Reconciliation on AWS: the projection divides a shard's share of the day by the "
        "measured entries per second per child; of a check's time here only "
        f"{cpu_share:.0%} is the child's own CPU, the rest waiting on moto (a new connection "
        "per request, DynamoDB requests one at a time, 2 cores shared by the children and the "
        "emulator), whose latency per request is not DynamoDB's or S3's. A check makes its "
        f"requests one after another, {big.requests_per_entry:.2f} per entry here: a "
        f"{_count(PROJECTED_DAY_ENTRIES)}-entry day gives each child about "
        f"{requests_per_child:,.0f} (of them {objects_per_child:,.0f} journal GETs, the rest "
        "mostly a ByAccount Query per account), so on AWS the services' latency sets the "
        f"time: at 5 ms a request (not measured here) that is {requests_per_child * 0.005:,.0f}"
        " s per child, at 10 ms "
        f"{requests_per_child * 0.01:,.0f} s, against the function's 900 s timeout.",
        "Reconciliation cost: Lambda GB-seconds at the template's MemorySize "
        f"({deployed.memory_mb} MB, {deployed.architecture}) for the check steps (the measured "
        f"durations scaled to {_count(cost.day_entries)} entries), one init per item, plan and "
        "settle; requests at $0.20/M; Step Functions Standard: Plan, CheckShards and Settle "
        "plus each child execution's CheckShard task (retries not counted); S3 GETs scaled "
        "with the journal's objects, a LIST page per 1,000 keys per shard, the reports' PUTs; "
        "DynamoDB: ledger reads scaled with the entries, the settlement table's (chain heads, "
        "run record, tallies) and its writes as measured. Journal cost: a stream batch "
        f"ends at {deployed.stream_batch} records or after JournalBatchingSeconds "
        f"({deployed.batching_seconds} s), with {STREAM_SHARDS} stream shards (assumed) "
        f"that is at least {STREAM_SHARDS * 86_400 // deployed.batching_seconds:,} batches a "
        "day; each writes an object per journal shard it touches (measured here: "
        f"{seeded.journal_objects / max(1, seeded.journal_batches):.1f} per batch of "
        f"{deployed.stream_batch}) and per object reads its chain head and writes it back "
        f"({head_item_bytes():,} B once its recent list is full, "
        f"{journals[0].head_write_units} WCU); the journal function's own duration is not "
        f"counted.",
    ]


def _count(value: int) -> str:
    if value >= 1_000_000 and value % 1_000_000 == 0:
        return f"{value // 1_000_000}M"
    if value >= 1000 and value % 1000 == 0:
        return f"{value // 1000}k"
    return f"{value:,}"


def _mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB"


def _money(amount: Decimal) -> str:
    return f"${amount:.4f}" if amount < 1 else f"${amount:,.2f}"


def _money_verdict(total: Decimal, target: Decimal) -> str:
    if total <= target:
        return f"met ({_money(target - total)} under)"
    return f"missed by {_money(total - target)} (+{(total - target) / target:.0%})"
