"""The rate limiter's cost: DynamoDB write units per request at steady state, the budget item's
write rate at 5,000 requests a second, and the CPU it adds to a request.

Instances are `RateLimiter`s (one per simulated Lambda instance) on the template's directory
table on moto, leasing through the real `RateBudgetStore`; requests arrive round-robin on a
simulated clock, so 5,000 requests a second take no 5,000 real ones. Write units are counted
by `bench.capacity.CapacityMeter` (a refused conditional update is charged as DynamoDB charges
it); the first 2 simulated seconds (every instance's leases growing from one token) are not
counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import boto3

from bench.capacity import CapacityMeter
from bench.network import moto_network
from bench.timing import AwsCallTimer, percentile
from pointsnet.errors import RateLimited
from pointsnet.partners.rate_limits import (
    DEFAULT_RATE_LIMIT,
    LeaseOutcome,
    LeaseRequest,
    RateBudgets,
    RateLimit,
    RateLimiter,
)
from pointsnet.store.rate_budget_store import RateBudgetStore

START = 1_767_225_600.0
WARMUP_SECONDS = 2.0
MEASURED_SECONDS = 8.0
CPU_REQUESTS = 20_000


@dataclass(frozen=True)
class Load:
    name: str
    limit: RateLimit
    instances: int
    per_second: int


# What the issue asks about, and the steady state of a partner well inside its limit.
LOADS = (
    Load("inside its limit", RateLimit(rate=1000, burst=2000), instances=4, per_second=800),
    Load("at 5,000/s, its limit", RateLimit(rate=5000, burst=10000), instances=50, per_second=5000),
    Load("at 5,000/s over the default limit", DEFAULT_RATE_LIMIT, instances=50, per_second=5000),
)


@dataclass(frozen=True)
class LoadFigures:
    load: Load
    requests: int
    accepted: int
    write_units: float
    budget_writes: int  # UpdateItems on the one budget item, refused ones included

    @property
    def units_per_request(self) -> float:
        return self.write_units / self.requests

    @property
    def budget_writes_per_second(self) -> float:
        return self.budget_writes / MEASURED_SECONDS


@dataclass(frozen=True)
class RateLimitFigures:
    loads: list[LoadFigures]
    cpu_p50_us: float
    cpu_p99_us: float


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class CountingBudgets:
    def __init__(self, budgets: RateBudgets) -> None:
        self.budgets = budgets
        self.leases = 0

    def lease(self, request: LeaseRequest) -> LeaseOutcome:
        self.leases += 1
        return self.budgets.lease(request)


def measure_rate_limiter() -> RateLimitFigures:
    loads = [_measure_load(load) for load in LOADS]
    p50, p99 = _measure_cpu()
    return RateLimitFigures(loads, p50, p99)


def _measure_load(load: Load) -> LoadFigures:
    meter = CapacityMeter(lambda: boto3.session.Session().client("dynamodb"))
    with moto_network((meter.install,)) as network:
        table = network.environment["DIRECTORY_TABLE"]
        store = RateBudgetStore(table)
        store.client.transact_write_items(
            TransactItems=[_limit_action(table, "starlodge", load.limit)]
        )
        clock = Clock()
        budgets = CountingBudgets(store)
        instances = [RateLimiter(budgets, clock) for _ in range(load.instances)]
        warmup = int(load.per_second * WARMUP_SECONDS)
        _drive(instances, clock, load.per_second, 0, warmup)
        budgets.leases = 0
        measured = int(load.per_second * MEASURED_SECONDS)
        with meter.measuring() as consumed:
            accepted = _drive(instances, clock, load.per_second, warmup, measured)
    return LoadFigures(load, measured, accepted, consumed.total_write_units, budgets.leases)


def _drive(
    instances: list[RateLimiter], clock: Clock, per_second: int, first: int, count: int
) -> int:
    accepted = 0
    for index in range(first, first + count):
        clock.now = START + index / per_second
        try:
            instances[index % len(instances)].admit("starlodge")
        except RateLimited:
            continue
        accepted += 1
    return accepted


def _measure_cpu() -> tuple[float, float]:
    """Process CPU of `admit` outside AWS calls, per request, for one instance serving a
    partner at 90 % of its limit (1,000/s)."""
    timer = AwsCallTimer()
    with moto_network((timer.install,)) as network:
        table = network.environment["DIRECTORY_TABLE"]
        store = RateBudgetStore(table)
        store.client.transact_write_items(
            TransactItems=[_limit_action(table, "starlodge", RateLimit(rate=1000, burst=2000))]
        )
        clock = Clock()
        limiter = RateLimiter(store, clock)
        samples: list[float] = []
        for index in range(CPU_REQUESTS):
            clock.now = START + index / 900
            timer.reset()
            cpu = time.process_time()
            limiter.admit("starlodge")
            samples.append((time.process_time() - cpu - timer.cpu_seconds) * 1e6)
    return percentile(samples, 0.50), percentile(samples, 0.99)


def _limit_action(table: str, partner_id: str, limit: RateLimit) -> dict[str, object]:
    from pointsnet.store.rate_budget_store import limit_update

    return limit_update(partner_id, table, limit)
