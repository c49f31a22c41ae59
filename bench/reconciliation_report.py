"""The reconciliation figures as report rows, against the issue's targets, and their notes."""

from __future__ import annotations

from decimal import Decimal

from bench.reconciliation import (
    COST_DAY_ENTRIES,
    ENTRIES_PER_MEMBER,
    PROJECTED_DAY_ENTRIES,
    STREAM_SHARDS,
    BigDay,
    FlatRun,
    ReconciliationFigures,
    head_item_bytes,
)
from bench.reconciliation_costs import (
    DayCost,
    Deployment,
    JournalCost,
    _decimal,
    day_cost,
    journal_cost,
    projection,
)
from bench.report import Row, at_most

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
    from pointsnet.journal.reading import FETCH_AHEAD

    round_trips = objects_per_child / FETCH_AHEAD + (requests_per_child - objects_per_child)
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
        "and the check: what Lambda's Max Memory Used reports); a check holds what it keeps "
        "of each of its shard's records, so the largest shard "
        f"({big.traced.entries:,} entries) was checked again in a fresh process under "
        "tracemalloc: its peak (fixed allocations included, so per entry an upper bound), "
        f"{_mib(big.traced.traced_peak)}, is {big.traced_per_entry / 1024:.1f} KiB per entry, "
        f"which puts a child at ≈ {_mib(at_1m)} for a day of {_count(TARGET_DAY_ENTRIES)} and "
        f"≈ {_mib(at_10m)} for {_count(PROJECTED_DAY_ENTRIES)} (MemorySize "
        f"{deployed.memory_mb} MB). The emulator is moto's server in a third process on the "
        "same 2 cores, with DynamoDB requests taken one at a time.",
        "Reconciliation on AWS: the projection divides a shard's share of the day by the "
        "measured entries per second per child; of a check's time here only "
        f"{cpu_share:.0%} is the child's own CPU, the rest waiting on moto (a new connection "
        "per request, DynamoDB requests one at a time, 2 cores shared by the children and the "
        "emulator), whose latency per request is not DynamoDB's or S3's. A check makes "
        f"{big.requests_per_entry:.2f} requests per entry here: a "
        f"{_count(PROJECTED_DAY_ENTRIES)}-entry day gives each child about "
        f"{requests_per_child:,.0f}, of them {objects_per_child:,.0f} journal GETs "
        f"({FETCH_AHEAD} in flight at a time) and the rest one after another (BatchGetItems of "
        "100 balances or entries, a few requests per shard), so about "
        f"{round_trips:,.0f} round trips in a row: on AWS at 10 ms a round trip (not measured "
        f"here) that is {round_trips * 0.01:,.0f} s per child, at 20 ms "
        f"{round_trips * 0.02:,.0f} s, against the function's 900 s timeout.",
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
