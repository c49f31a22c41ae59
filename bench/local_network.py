"""The local network as `make run` runs it: throughput, whether it holds as data grows, the
emulator's write rate against table size, and how soon an earn's event reaches the event log.

Every figure runs the same `local_network()` that `make run` starts: the HTTP front, worker
processes per function, the stream consumer, the schedules and the event log.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.local_stack import _earn_like_items

FUNCTION = "PartnerApiFunction"
BATCH_WRITE_LIMIT = 25


@contextmanager
def make_run_network(workers: int, event_log: Path | None = None) -> Iterator[Any]:
    from pointsnet.local.runtime import local_network

    with tempfile.TemporaryDirectory() as scratch:
        log = event_log or Path(scratch) / "events.jsonl"
        with local_network(port=0, workers=workers, warm_workers=workers, event_log=log) as network:
            yield network


@dataclass(frozen=True)
class GrowthFigures:
    threads: int
    workers: int
    rates_per_thousand: tuple[float, ...]  # earns/s for each successive thousand
    failed: int

    @property
    def first(self) -> float:
        return self.rates_per_thousand[0]

    @property
    def last(self) -> float:
        return self.rates_per_thousand[-1]

    @property
    def ratio(self) -> float:
        return self.last / self.first


def measure_growth(threads: int = 8, workers: int = 4, thousands: int = 10) -> GrowthFigures:
    """Earns/s of each successive thousand signed earns into one network, `threads` at a time."""
    from pointsnet.client import PointsNetClient

    with make_run_network(workers) as network:
        # The figure is the local stack's speed, not starlodge's default rate limit (100/s).
        network.client("network", "admin").set_rate_limit("starlodge", 1_000_000, 1_000_000)
        key = network.key("starlodge")
        clients = [
            PointsNetClient(network.base_url, key["key_id"], key["secret"], max_retries=0)
            for _ in range(threads)
        ]
        for thread, client in enumerate(clients):  # each worker loads its key first
            client.earn(f"warm-{thread}", 1, f"warm-{thread}")
        rates: list[float] = []
        failed = 0
        for thousand in range(thousands):
            rate, failures = _earn_a_thousand(clients, thousand)
            rates.append(rate)
            failed += failures
    return GrowthFigures(threads, workers, tuple(rates), failed)


def _earn_a_thousand(clients: list[Any], thousand: int) -> tuple[float, int]:
    """1,000 earns shared among the clients' threads: (earns/s, failures)."""
    tickets = iter(range(1000))
    lock = threading.Lock()
    failures = [0] * len(clients)

    def earn(thread: int) -> None:
        while True:
            with lock:
                ticket = next(tickets, None)
            if ticket is None:
                return
            try:
                clients[thread].earn(f"member-{ticket % 200}", 10, f"order-{thousand}-{ticket}")
            except Exception:
                failures[thread] += 1

    started = time.perf_counter()
    runners = [threading.Thread(target=earn, args=(index,)) for index in range(len(clients))]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    return 1000 / (time.perf_counter() - started), sum(failures)


@dataclass(frozen=True)
class EmulatorScaling:
    small_items: int
    large_items: int
    small_rate: float
    large_rate: float

    @property
    def ratio(self) -> float:
        return self.large_rate / self.small_rate


def measure_emulator_scaling(
    small: int = 1_000, large: int = 100_000, writes: int = 500
) -> EmulatorScaling:
    """TransactWriteItems/s against the emulator's ledger table at two sizes, one client."""
    from pointsnet.local.emulator import aws_client

    with make_run_network(workers=1) as network:
        environment = network.environments[FUNCTION]
        table = environment["LEDGER_TABLE"]
        client = aws_client("dynamodb", environment)
        _fill(client, table, small)
        small_rate = _transaction_rate(client, table, writes)
        _fill(client, table, large - small - writes)
        large_rate = _transaction_rate(client, table, writes)
    return EmulatorScaling(small, large, small_rate, large_rate)


def _fill(client: Any, table: str, count: int) -> None:
    """Add `count` entry-sized items with BatchWriteItem (no stream consumer reads them twice)."""
    batch: list[dict[str, Any]] = []
    for index in range(count):
        item = _earn_like_items(table, f"ACCT#fill-{index % 5000}", 1)[0]["Put"]["Item"]
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == BATCH_WRITE_LIMIT or index == count - 1:
            pending: dict[str, Any] = {table: batch}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            batch = []


def _transaction_rate(client: Any, table: str, writes: int) -> float:
    account = f"ACCT#bench-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    for count in range(writes):
        client.transact_write_items(TransactItems=_earn_like_items(table, account, count))
    return writes / (time.perf_counter() - started)


@dataclass(frozen=True)
class EventLatency:
    earns: int
    seen: int
    p50_seconds: float
    p99_seconds: float
    max_seconds: float


def measure_event_latency(earns: int = 200, pace_seconds: float = 0.05) -> EventLatency:
    """Seconds from each earn's 201 to its points.earned line in the event log."""
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "events.jsonl"
        answered: dict[str, float] = {}
        seen: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            position = 0
            while not stop.is_set():
                with log.open(encoding="utf-8") as handle:
                    handle.seek(position)
                    for line in handle:
                        if not line.endswith("\n"):
                            break
                        position += len(line.encode("utf-8"))
                        event = json.loads(line)
                        if event.get("detail-type") == "points.earned":
                            transaction = event["detail"]["data"]["transaction_id"]
                            seen.setdefault(transaction, time.perf_counter())
                stop.wait(0.01)

        with make_run_network(workers=2, event_log=log) as network:
            client = network.client("starlodge")
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            for index in range(earns):
                response = client.earn(f"latency-{index % 20}", 5, f"latency-{index}")
                answered[response["transaction"]["transaction_id"]] = time.perf_counter()
                time.sleep(pace_seconds)
            deadline = time.monotonic() + 30
            while len(seen.keys() & answered.keys()) < earns and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            watcher.join(timeout=5)
    delays = sorted(seen[txn] - answered[txn] for txn in answered if txn in seen)
    if not delays:
        return EventLatency(earns, 0, float("nan"), float("nan"), float("nan"))
    p99 = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
    return EventLatency(earns, len(delays), statistics.median(delays), p99, delays[-1])
