"""A 10M-entry day on AWS, projected from the measured per-child rate, and what a day costs at
list prices: the run's, and the journal's own writes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from bench.capacity import write_units
from bench.prices import LIST_PRICES, MILLION, RUN_PRICES, Prices, RunPrices
from bench.reconciliation import (
    COST_DAY_ENTRIES,
    PROJECTED_DAY_ENTRIES,
    STREAM_SHARDS,
    Deployment,
    ReconciliationFigures,
    head_item_bytes,
)

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
