"""Imports' figures: rows imported per second through the local network, the write units of an
imported row beside a single earn's in the same run, and the projection to 2M rows on AWS.

- Units: on moto, through the capacity meter, 200 earns through PartnerApiFunction, then
  1,000 rows (10 batches of 100) posted by the import function's `post_batch`, its batch
  tallies included; the rate limiter's leases (`PARTNER/*`) are the partner's budget, not the
  earn's, and are left out of the earn's units.
- Speed: `make run`'s network (`local_network`, two workers per function) imports a file of
  `rows` members with the SDK's `import_file`, as `pointsnet import` does; the clock runs from
  the create to the import's `completed`.
- Projection: the template's ImportConcurrency batches at once; a batch is the function's own
  time (measured here) plus its TransactWriteItems at an assumed AWS latency; and the ledger
  table's warm write throughput (the template's LedgerWarmWriteUnits, 4,000 by default: what
  a new on-demand table serves at once) bounds the rate by the units a row writes to the
  table itself (its index has a throughput of its own).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3

from bench.capacity import CapacityMeter, Consumption
from bench.network import moto_network
from bench.report import Row, at_most
from bench.timing import AwsCallTimer

UNIT_EARNS = 200
UNIT_ROWS = 1_000
BATCH = 100
PROJECTED_ROWS = 2_000_000
# Assumed: one 100-item TransactWriteItems on DynamoDB, p50 (AWS publishes no figure).
TRANSACTION_SECONDS = 0.060
# A pre-warmed ledger table's write throughput, for the projection's second figure.
WARMED_WRITE_UNITS = 12_000


@dataclass(frozen=True)
class ImportUnits:
    earn_write: float
    row_write: float
    row_table_write: float  # of row_write: the ledger table's own, not its index's or tallies'
    row_read: float
    transactions_per_batch: float
    cpu_per_batch_s: float


def import_rows(local_rows: int) -> tuple[list[Row], list[str]]:
    print(f"bench: imports: units per row, then {local_rows:,} rows locally...", file=sys.stderr)
    units = measure_units()
    rate, seconds = measure_local(local_rows)
    concurrency, table_units = (
        _template_default("ImportConcurrency"),
        _template_default("LedgerWarmWriteUnits"),
    )
    batch_seconds = units.cpu_per_batch_s + units.transactions_per_batch * TRANSACTION_SECONDS
    by_concurrency = concurrency * BATCH / batch_seconds
    by_table = table_units / units.row_table_write
    projected = PROJECTED_ROWS / min(by_concurrency, by_table)
    warmed = PROJECTED_ROWS / min(by_concurrency, WARMED_WRITE_UNITS / units.row_table_write)
    ratio = units.row_write / units.earn_write
    rows = [
        Row(
            f"rows imported per second locally, {local_rows:,} rows, 2 cores",
            f"{rate:,.0f}/s ({seconds:,.1f} s)",
            "≥ 500/s",
            "met" if rate >= 500 else f"missed by {500 - rate:,.0f}/s",
        ),
        Row(
            "DynamoDB write units per imported row vs a single earn",
            f"{ratio:.3f}x ({units.row_write:.3f} WCU, tallies included, vs "
            f"{units.earn_write:.3f} WCU; reads {units.row_read:.3f} RCU a row)",
            "≤ 1.0x",
            at_most(ratio, 1.0, "x", 3),
        ),
        Row(
            f"projected time to import 2M rows on AWS (ImportConcurrency {concurrency}, "
            f"LedgerWarmWriteUnits {table_units:,})",
            f"{projected / 60:.1f} min: 2M ÷ min({concurrency} x {BATCH} rows ÷ "
            f"{batch_seconds:.3f} s = {by_concurrency:,.0f}/s, {table_units:,} WCU/s ÷ "
            f"{units.row_table_write:.2f} table WCU a row = {by_table:,.0f}/s); pre-warmed to "
            f"{WARMED_WRITE_UNITS:,}: {warmed / 60:.1f} min",
            "≤ 30 min",
            at_most(projected / 60, 30.0, " min", 1),
        ),
    ]
    note = (
        f"Imports: a batch of {BATCH} rows is {units.transactions_per_batch:g} "
        f"TransactWriteItems (each row's entry, balance and lot items, as many rows to one as "
        f"fit in 100 items) and {units.cpu_per_batch_s * 1000:.0f} ms of the function's own "
        f"CPU (measured on moto); each transaction is assumed to take "
        f"{TRANSACTION_SECONDS * 1000:.0f} ms on DynamoDB. At the template's defaults the "
        "ledger table's warm write throughput bounds a large import more than the concurrency "
        "does: raise LedgerWarmWriteUnits before one (DynamoDB charges once for the raise), "
        "or lower ImportConcurrency to leave the API its share."
    )
    return rows, [note]


def measure_units() -> ImportUnits:
    from pointsnet.imports.models import ImportRecord, ImportStatus
    from pointsnet.local.moto_transactions import moto_semantics
    from pointsnet.wiring import default_imports

    meter = CapacityMeter(lambda: boto3.session.Session().client("dynamodb"))
    timer = AwsCallTimer()
    # The local emulator's transactions (an undo log): moto's own copies the table each time.
    with moto_semantics(True), moto_network((meter.install, timer.install)) as network:
        with meter.measuring() as earns:
            for number in range(UNIT_EARNS):
                reply = network.starlodge.call(
                    "POST",
                    f"/v1/members/e-{number}/earn",
                    {"points": 100, "reference": f"order-{number}"},
                )
                if reply.status != 201:
                    raise RuntimeError(f"earn failed: {reply}")
        imports = default_imports()
        record = ImportRecord(
            import_id="imp_bench",
            partner_id="starlodge",
            program="STAR",
            status=ImportStatus.RUNNING,
            created_at=datetime.now(UTC),
        )
        imports.store.create(record)
        cpu = 0.0
        timer.reset()
        with meter.measuring() as imported:
            for first in range(0, UNIT_ROWS, BATCH):
                items = [
                    {"line": line, "row": {"member_id": f"i-{line}", "points": "100"}}
                    for line in range(first, first + BATCH)
                ]
                started = time.process_time()
                imports.post_batch("imp_bench", items)
                cpu += time.process_time() - started
    batches = UNIT_ROWS / BATCH
    return ImportUnits(
        earn_write=_write_units(earns) / UNIT_EARNS,
        row_write=imported.total_write_units / UNIT_ROWS,
        row_table_write=sum(
            units
            for label, units in imported.write_units.items()
            if not label.startswith(("index ", "IMPORT"))
        )
        / UNIT_ROWS,
        row_read=imported.total_read_units / UNIT_ROWS,
        # Less the one that keeps each batch's tally.
        transactions_per_batch=imported.calls.get("TransactWriteItems", 0) / batches - 1,
        # The function's own: moto's work (and the meter's) inside the SDK calls left out.
        cpu_per_batch_s=(cpu - timer.cpu_seconds) / batches,
    )


def _write_units(consumed: Consumption) -> float:
    return sum(u for label, u in consumed.write_units.items() if not label.startswith("PARTNER/"))


def measure_local(rows: int) -> tuple[float, float]:
    from pointsnet.local.runtime import local_network

    content = (
        "member_id,points,reference\n"
        + "".join(f"member-{n},{n % 5000 + 1},crm-{n}\n" for n in range(rows))
    ).encode()
    with tempfile.TemporaryDirectory() as folder:
        credentials = Path(folder) / "local.json"
        with local_network(port=0, workers=2, credentials_path=credentials) as network:
            client = network.client("starlodge")
            started = time.perf_counter()
            imported = client.import_file(content, poll_seconds=0.5, timeout=3600)
            seconds = time.perf_counter() - started
    if imported["status"] != "completed" or imported["rows_posted"] != rows:
        raise RuntimeError(f"the bench import did not complete: {imported}")
    return rows / seconds, seconds


def _template_default(parameter: str) -> int:
    from pointsnet.local.template import load_template

    return int(load_template()["Parameters"][parameter]["Default"])
