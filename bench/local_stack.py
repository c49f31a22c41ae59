"""Local stack throughput: signed earns/s through the local HTTP API next to raw emulator writes/s.

Both sides run the same number of client threads for the same time against the same emulator.
A raw write is what an earn writes: one TransactWriteItems of an entry put and a conditional
balance update, with items of the same shape, so the ratio is the local runtime's overhead
(HTTP front, event building, workers, the handler) over the emulator itself.
"""

from __future__ import annotations

import importlib.util
import inspect
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SLICE_SECONDS = 1.0
FUNCTION = "PartnerApiFunction"


@dataclass(frozen=True)
class Throughput:
    threads: int
    workers: int
    seconds: float
    earns_per_second: float
    raw_writes_per_second: float
    failed_earns: int

    @property
    def ratio(self) -> float:
        return self.earns_per_second / self.raw_writes_per_second


def local_runtime_available() -> bool:
    try:
        spec = importlib.util.find_spec("pointsnet.local.runtime")
    except ImportError:
        return False
    if spec is None:
        return False
    module = importlib.import_module("pointsnet.local.runtime")
    return hasattr(module, "local_network")


def measure_local_stack(threads: int = 8, workers: int = 4, seconds: float = 5.0) -> Throughput:
    from pointsnet.client import PointsNetClient
    from pointsnet.local.emulator import aws_client
    from pointsnet.local.runtime import local_network

    options: dict[str, Any] = {"port": 0, "workers": workers}
    if "warm_workers" in inspect.signature(local_network).parameters:
        options["warm_workers"] = workers  # every worker up before the clock starts
    with local_network(**options) as network:
        partner = network.key("starlodge")

        def earner(thread: int) -> Callable[[int], None]:
            client = PointsNetClient(
                network.base_url, partner["key_id"], partner["secret"], max_retries=0
            )

            def earn(count: int) -> None:
                client.earn(f"local-{thread}", 10, f"order-{thread}-{count}")

            return earn

        environment = network.environments[FUNCTION]
        table = environment["LEDGER_TABLE"]

        def raw_writer(thread: int) -> Callable[[int], None]:
            client = aws_client("dynamodb", environment)
            account = f"ACCT#bench-raw-{thread}-{uuid.uuid4().hex[:8]}"

            def write(count: int) -> None:
                client.transact_write_items(TransactItems=_earn_like_items(table, account, count))

            return write

        # A few earns first: each worker process loads its keys on its first request.
        _run_threads(earner, threads, 1.0)
        # moto copies a table on every transaction, so it slows as the table grows: the two
        # sides take turns, so that both meet the same table sizes.
        earned = failed = written = 0
        rounds = max(1, round(seconds / SLICE_SECONDS))
        for _ in range(rounds):
            ok, refused = _run_threads(earner, threads, seconds / rounds)
            earned, failed = earned + ok, failed + refused
            written += _run_threads(raw_writer, threads, seconds / rounds)[0]
    return Throughput(
        threads=threads,
        workers=workers,
        seconds=seconds,
        earns_per_second=earned / seconds,
        raw_writes_per_second=written / seconds,
        failed_earns=failed,
    )


def _run_threads(
    make: Callable[[int], Callable[[int], None]], threads: int, seconds: float
) -> tuple[int, int]:
    """Each thread calls its own operation until time is up; returns (successes, failures)."""
    operations = [make(thread) for thread in range(threads)]
    counts = [0] * threads
    failures = [0] * threads
    deadline = time.perf_counter() + seconds

    def run(thread: int) -> None:
        while time.perf_counter() < deadline:
            try:
                operations[thread](counts[thread] + failures[thread])
            except Exception:
                failures[thread] += 1
            else:
                counts[thread] += 1

    workers = [threading.Thread(target=run, args=(thread,)) for thread in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts), sum(failures)


def _earn_like_items(table: str, account: str, count: int) -> list[dict[str, Any]]:
    """An entry of an earn's size and a versioned balance update, as the ledger writes them."""
    transaction_id = f"txn_raw{uuid.uuid4().hex}"
    entry = {
        "pk": {"S": f"TXN#{transaction_id}"},
        "sk": {"S": "BENCHRAW"},
        "gsi1pk": {"S": account},
        "gsi1sk": {"S": f"2026-01-01T00:00:00.{count:06d}Z#{transaction_id}"},
        "payload": {"S": "x" * 450},
    }
    balance_key = {"pk": {"S": account}, "sk": {"S": "BENCHRAW"}}
    if count == 0:
        condition = "attribute_not_exists(pk)"
        values: dict[str, Any] = {":d": {"N": "10"}, ":one": {"N": "1"}}
        update = "SET available = :d, version = :one"
    else:
        condition = "attribute_exists(pk)"
        values = {":d": {"N": "10"}, ":one": {"N": "1"}}
        update = "SET available = available + :d, version = version + :one"
    return [
        {
            "Put": {
                "TableName": table,
                "Item": entry,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": balance_key,
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        },
    ]
