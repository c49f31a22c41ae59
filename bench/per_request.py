"""Per-request figures: request units counted on moto, and the handler's own CPU time.

Two separate runs per scenario, each on a fresh network: counting reads every written item
around each write (so it would distort timings), timing hooks nothing but two clocks.

moto deep-copies a table for each action of a TransactWriteItems, so its latency grows with
every write the table has ever taken. Timing therefore runs in batches, each on a fresh
network (whose tables have no stream: moto would copy its records too).
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3

from bench.capacity import CapacityMeter, Consumption
from bench.network import FunctionFacts, MotoNetwork, moto_network
from bench.prices import billed_ms
from bench.scenarios import Scenario
from bench.timing import AwsCallTimer, percentile

WARMUP_REQUESTS = 5  # the first requests load keys and secrets; a warm function has them
TIMING_BATCH = 50


class UnexpectedReply(RuntimeError):
    pass


@dataclass(frozen=True)
class CapacityFigures:
    scenario: str
    requests: int
    per_request: Consumption


@dataclass(frozen=True)
class TimingFigures:
    scenario: str
    requests: int
    cpu_outside_aws_ms: list[float]
    cpu_ms: list[float]
    wall_ms: list[float]
    aws_wall_ms: list[float]
    aws_calls_per_request: float
    facts: FunctionFacts

    @property
    def p50_ms(self) -> float:
        return percentile(self.cpu_outside_aws_ms, 0.50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.cpu_outside_aws_ms, 0.99)

    @property
    def mean_billed_ms(self) -> float:
        """Billed on CPU time: moto runs in process, so an uncontended run's wall time is its
        CPU time, while other processes on the machine stretch wall time alone."""
        return sum(billed_ms(ms) for ms in self.cpu_ms) / len(self.cpu_ms)

    @property
    def mean_cpu_ms(self) -> float:
        return sum(self.cpu_ms) / len(self.cpu_ms)

    @property
    def mean_wall_ms(self) -> float:
        return sum(self.wall_ms) / len(self.wall_ms)

    @property
    def mean_aws_wall_ms(self) -> float:
        return sum(self.aws_wall_ms) / len(self.aws_wall_ms)


def measure_capacity(scenario: Scenario, requests: int) -> CapacityFigures:
    # Its own botocore session: the meter's reads are not counted, nor timed.
    meter = CapacityMeter(lambda: boto3.session.Session().client("dynamodb"))
    with moto_network((meter.install,)) as network:
        _prepare(scenario, network, requests)
        with meter.measuring() as consumed:
            for index in range(requests):
                invoker, event = scenario.request(network, WARMUP_REQUESTS + index)
                _expect(scenario, invoker.invoke(event).status)
    return CapacityFigures(scenario.name, requests, consumed.per_request(requests))


def measure_timing(scenario: Scenario, requests: int) -> TimingFigures:
    """Handler CPU outside AWS calls, and wall time inside and outside them, per request."""
    timer = AwsCallTimer()
    cpu_outside: list[float] = []
    cpu: list[float] = []
    wall: list[float] = []
    aws_wall: list[float] = []
    calls = 0
    while len(cpu) < requests:
        with moto_network((timer.install,)) as network:
            batch = min(TIMING_BATCH, requests - len(cpu))
            _prepare(scenario, network, batch)
            for index in range(batch):
                invoker, event = scenario.request(network, WARMUP_REQUESTS + index)
                timer.reset()
                reply = invoker.invoke(event)
                _expect(scenario, reply.status)
                cpu_outside.append((invoker.last_cpu - timer.cpu_seconds) * 1000)
                cpu.append(invoker.last_cpu * 1000)
                wall.append(invoker.last_wall * 1000)
                aws_wall.append(timer.wall_seconds * 1000)
                calls += timer.calls
            facts = network.facts
    return TimingFigures(
        scenario.name, requests, cpu_outside, cpu, wall, aws_wall, calls / requests, facts
    )


def _prepare(scenario: Scenario, network: MotoNetwork, requests: int) -> None:
    """What the scenario's requests need, and a warm function (its keys and secrets loaded)."""
    scenario.prepare(network, WARMUP_REQUESTS + requests)
    for index in range(WARMUP_REQUESTS):
        invoker, event = scenario.request(network, index)
        _expect(scenario, invoker.invoke(event).status)


def _expect(scenario: Scenario, status: int) -> None:
    if status != scenario.expected_status:
        raise UnexpectedReply(f"{scenario.name}: expected {scenario.expected_status}, got {status}")
