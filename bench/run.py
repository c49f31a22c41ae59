"""Run every measurement and turn the figures into the table's rows and notes."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import Decimal

from bench.cold_start_rows import cold_start_rows
from bench.earning_rules import earning_rule_rows
from bench.imports import import_rows
from bench.local_network import measure_emulator_scaling, measure_event_latency, measure_growth
from bench.local_stack import local_runtime_available, measure_local_stack
from bench.per_request import CapacityFigures, TimingFigures, measure_capacity, measure_timing
from bench.prices import LIST_PRICES, RUN_PRICES, CostPerMillion, billed_ms, cost_per_million
from bench.program_metrics import metrics_rows
from bench.rate_limit import RateLimitFigures, measure_rate_limiter
from bench.reconciliation import (
    BIG_DAY_ENTRIES,
    FLAT_DAY_ENTRIES,
    HISTORY_SIZES,
    measure_reconciliation,
)
from bench.reconciliation_report import reconciliation_rows
from bench.report import NOT_MEASURED, Row, at_least, at_most, dollars, units
from bench.scenarios import SCENARIOS, Scenario

LOCAL_STACK_TARGET = 0.5
LOCAL_EARNS_TARGET = 150.0
GROWTH_TARGET = 0.9
EMULATOR_SCALING_TARGET = 0.9
EVENT_LATENCY_TARGET_SECONDS = 2.0
RATE_LIMIT_UNITS_TARGET = 0.1
RATE_LIMIT_HOT_ITEM_TARGET = 500
REST_SURCHARGE = LIST_PRICES.rest_api_per_million - LIST_PRICES.http_api_per_million


@dataclass(frozen=True)
class Options:
    count_requests: int = 200
    timed_requests: int = 1000
    cold_runs: int = 7
    threads: int = 8
    workers: int = 4
    seconds: float = 5.0
    local: bool = True
    # Only the local network and rate limiter figures (minutes instead of the whole run).
    only_local: bool = False
    # Only the cold start of every function against bare boto3 (a minute or two).
    only_cold: bool = False
    # Only the reconciliation figures (the longest part: seeding the emulator takes minutes).
    only_reconciliation: bool = False
    # Only the earning rules' and program metrics' figures (a few minutes).
    only_programs: bool = False
    only_imports: bool = False  # only the imports' figures, their local import of:
    import_rows: int = 100_000
    # Older ledger entries under the day whose reads per entry are compared.
    reconciliation_sizes: tuple[int, ...] = HISTORY_SIZES
    reconciliation_flat_day: int = FLAT_DAY_ENTRIES
    # The day reconciled as the state machine runs it, a worker process per shard.
    reconciliation_day_entries: int = BIG_DAY_ENTRIES


def run(options: Options) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    if options.only_cold:
        return cold_start_rows(options.cold_runs, _progress)
    if options.only_reconciliation:
        return _reconciliation_rows(options)
    if options.only_programs:
        return _program_rows(options)
    if options.only_imports:
        return import_rows(options.import_rows)
    if options.only_local:
        rows.append(_local_stack_row(options))
        local_rows, local_notes = _local_network_rows(options)
        limiter = measure_rate_limiter()
        return [*rows, *local_rows, *_rate_limit_rows(limiter)], [
            *local_notes,
            _rate_limit_note(limiter),
        ]
    timings: dict[str, TimingFigures] = {}
    capacities: dict[str, CapacityFigures] = {}
    costs: dict[str, CostPerMillion] = {}
    for scenario in SCENARIOS:
        _progress(f"{scenario.name}: counting request units over {options.count_requests} requests")
        capacity = measure_capacity(scenario, options.count_requests)
        _progress(f"{scenario.name}: timing {options.timed_requests} requests")
        timing = measure_timing(scenario, options.timed_requests)
        timings[scenario.name] = timing
        capacities[scenario.name] = capacity
        costs[scenario.name] = _cost(capacity, timing)
        rows += _request_rows(scenario, capacity, timing, costs[scenario.name])
        notes += _why_units(scenario, capacity)
        own_ms = sum(timing.cpu_outside_aws_ms) / len(timing.cpu_outside_aws_ms)
        floor = cost_per_million(
            write_units=0,
            read_units=0,
            billed_ms=billed_ms(own_ms),
            memory_mb=timing.facts.memory_mb,
            architecture=timing.facts.architecture,
            api_type="HTTP",
        ).lambda_duration
        notes.append(
            f"{scenario.name}: handler CPU {timing.mean_cpu_ms:.1f} ms per request (billed), "
            f"wall {timing.mean_wall_ms:.1f} ms, of which {timing.mean_aws_wall_ms:.1f} ms "
            f"inside {timing.aws_calls_per_request:g} moto calls; the handler's own "
            f"{own_ms:.1f} ms alone would bill {dollars(floor)}/M, so DynamoDB's real latency "
            "puts the duration charge between the two."
        )
    for scenario in SCENARIOS:
        rows.append(_cpu_row(scenario, timings[scenario.name]))
    if {"earn", "earn by amount"} <= timings.keys():
        rows += earning_rule_rows(
            capacities["earn"],
            capacities["earn by amount"],
            timings["earn"],
            timings["earn by amount"],
        )
    _progress("program metrics: items a metrics request reads")
    metric_rows, metric_notes = metrics_rows()
    rows += metric_rows
    notes += metric_notes
    imported, import_notes = import_rows(options.import_rows)
    rows += imported
    notes += import_notes
    _progress("rate limiter: leases on moto under three loads, and its CPU per request")
    limiter = measure_rate_limiter()
    rows += _rate_limit_rows(limiter)
    notes.append(_rate_limit_note(limiter))
    if {"quote", "exchange"} <= costs.keys():
        quote, exchange = costs["quote"].total, costs["exchange"].total
        notes.append(
            "An exchange is two requests, a quote and then the exchange: "
            f"{dollars(quote)} + {dollars(exchange)} = {dollars(quote + exchange)} per million "
            "exchanges with an HTTP API. The exchange's duration is mostly moto's: it copies "
            "the whole table for each action of a TransactWriteItems, and an exchange has seven."
        )

    cold_rows, cold_notes = cold_start_rows(options.cold_runs, _progress)
    rows += cold_rows
    notes += cold_notes
    rows.append(_local_stack_row(options))
    if options.local and local_runtime_available():
        local_rows, local_notes = _local_network_rows(options)
        rows += local_rows
        notes += local_notes
    reconciliation_rows_, reconciliation_notes = _reconciliation_rows(options)
    rows += reconciliation_rows_
    notes += reconciliation_notes[:-1]  # the prices come with the others below

    any_timing = next(iter(timings.values()))
    facts = any_timing.facts
    notes += [
        f"Prices used: {LIST_PRICES.describe()}; {RUN_PRICES.describe()}.",
        f"Request units are counted from every DynamoDB call of {options.count_requests} "
        "warm requests per row on moto, by DynamoDB's item-size rules: a transactional write "
        "costs 2 units per KB per item, an index write 1 unit per KB of the projected entry, a "
        "strongly consistent read 1 unit per 4 KB.",
        f"Lambda: {facts.memory_mb} MB {facts.architecture} (template.yaml), billed on the "
        f"measured duration of {options.timed_requests} warm invocations, each rounded up to "
        "1 ms. DynamoDB is moto in process, so moto's work stands in for DynamoDB's latency and "
        "the duration is the handler's CPU time: wall time equals it on an idle machine, and "
        "other processes stretch wall time only. moto deep-copies a table for each action of "
        "a TransactWriteItems, so its latency grows with every write the table has taken: "
        "timing runs in batches of 50 requests, each on a fresh network, with the tables' "
        "streams off (DynamoDB does not charge for stream records, and nothing here reads "
        "them).",
        "Handler CPU is process CPU time of the handler call minus the CPU time spent inside "
        "botocore calls (from `provide-client-params` to `after-call`), per request.",
        f"API type in template.yaml: {facts.api_type} API; the REST API figure adds "
        f"{dollars(REST_SURCHARGE)}/M.",
        "Key lookups are cached per function instance (directory items for KEY_CACHE_SECONDS, "
        "the secret for 15 min): a warm request reads none, and a reload that falls inside a "
        "run is counted where it happened (the KEY/ and PARTNER/ reads, if any).",
    ]
    return rows, notes


def _cost(capacity: CapacityFigures, timing: TimingFigures) -> CostPerMillion:
    return cost_per_million(
        write_units=capacity.per_request.total_write_units,
        read_units=capacity.per_request.total_read_units,
        billed_ms=timing.mean_billed_ms,
        memory_mb=timing.facts.memory_mb,
        architecture=timing.facts.architecture,
        api_type="HTTP",
    )


def _request_rows(
    scenario: Scenario, capacity: CapacityFigures, timing: TimingFigures, cost: CostPerMillion
) -> list[Row]:
    consumed = capacity.per_request
    targets = scenario.targets
    writes = consumed.total_write_units
    reads = consumed.total_read_units
    breakdown = ", ".join(
        f"{label} {units(value)}" for label, value in sorted(consumed.write_units.items())
    )
    read_breakdown = ", ".join(
        f"{label} {units(value)}" for label, value in sorted(consumed.read_units.items())
    )
    measured = f"{units(writes)} WCU ({breakdown}); {units(reads)} RCU"
    if read_breakdown:
        measured += f" ({read_breakdown})"
    sizes = ", ".join(f"{label} {size} B" for label, size in sorted(consumed.item_bytes.items()))
    measured += f"; items {sizes}"
    verdicts = []
    if targets.write_units is not None:
        verdicts.append(_unit_verdict("WCU", writes, targets.write_units))
    if targets.read_units is not None:
        verdicts.append(_unit_verdict("RCU", reads, targets.read_units))
    rows = [
        Row(
            f"{scenario.name}: DynamoDB units per request",
            measured,
            _unit_target(targets.write_units, targets.read_units),
            "; ".join(verdicts) or NOT_MEASURED,
        )
    ]
    for api, total, target in (
        ("HTTP", cost.total, targets.cost_per_million_http),
        (
            "REST",
            cost.total + REST_SURCHARGE,
            None
            if targets.cost_per_million_http is None
            else targets.cost_per_million_http + REST_SURCHARGE,
        ),
    ):
        rows.append(
            Row(
                f"{scenario.name}: cost per million, {api} API",
                f"{dollars(total)}" + (f" = {_cost_parts(cost, timing)}" if api == "HTTP" else ""),
                f"≤ {dollars(target)}" if target is not None else NOT_MEASURED,
                _dollar_verdict(total, target),
            )
        )
    return rows


def _why_units(scenario: Scenario, capacity: CapacityFigures) -> list[str]:
    """Where units beyond the target come from, read off the breakdown."""
    consumed = capacity.per_request
    targets = scenario.targets
    reasons = []
    if targets.write_units is not None and consumed.total_write_units > targets.write_units:
        extra = [
            f"{label} {units(value)} WCU"
            for label, value in sorted(consumed.write_units.items())
            if label.startswith("index ")
        ]
        if extra:
            reasons.append(
                "the target counts the transactional write of its items only; the entry is "
                "also written to " + ", ".join(extra) + " (standard writes, 1 unit per KB)"
            )
        leases = consumed.write_units.get("PARTNER/*", 0.0)
        if leases:
            reasons.append(
                f"the rate limiter leases the partner's tokens (PARTNER/* {units(leases)} WCU: "
                "a conditional UpdateItem per lease, sized to this one instance's pace)"
            )
    if targets.read_units is not None and consumed.total_read_units > targets.read_units:
        reads = ", ".join(
            f"{label} {units(value)}" for label, value in sorted(consumed.read_units.items())
        )
        reasons.append(f"the handler reads before it writes ({reads} RCU per request)")
    if not reasons:
        return []
    return [f"{scenario.name}: units over target because " + "; ".join(reasons) + "."]


def _cpu_row(scenario: Scenario, timing: TimingFigures) -> Row:
    targets = scenario.targets
    measured = (
        f"{timing.p50_ms:.3f} ms / {timing.p99_ms:.3f} ms "
        f"(n={timing.requests}, {timing.aws_calls_per_request:g} AWS calls each)"
    )
    if targets.cpu_p50_ms is None or targets.cpu_p99_ms is None:
        return Row(f"{scenario.name}: handler CPU outside AWS calls, p50 / p99", measured)
    verdict = "; ".join(
        f"{name} " + at_most(value, target, " ms", 3)
        for name, value, target in (
            ("p50", timing.p50_ms, targets.cpu_p50_ms),
            ("p99", timing.p99_ms, targets.cpu_p99_ms),
        )
    )
    return Row(
        f"{scenario.name}: handler CPU outside AWS calls, p50 / p99",
        measured,
        f"≤ {targets.cpu_p50_ms} ms / ≤ {targets.cpu_p99_ms} ms",
        verdict,
    )


def _local_stack_row(options: Options) -> Row:
    figure = "local stack: signed earns/s over HTTP vs raw emulator TransactWriteItems/s"
    target = f"≥ {LOCAL_STACK_TARGET}x"
    if not options.local:
        return Row(figure, "n/a (skipped with --no-local)", target)
    if not local_runtime_available():
        return Row(figure, "n/a (local runtime missing)", target)
    _progress(
        f"local stack: {options.threads} threads, {options.workers} workers, "
        f"{options.seconds:g} s per side"
    )
    measured = measure_local_stack(options.threads, options.workers, options.seconds)
    failed = f", {measured.failed_earns} earns failed" if measured.failed_earns else ""
    return Row(
        f"{figure} ({measured.threads} threads, {measured.workers} workers)",
        f"{measured.earns_per_second:.1f}/s vs {measured.raw_writes_per_second:.1f}/s "
        f"= {measured.ratio:.2f}x{failed}",
        target,
        at_least(measured.ratio, LOCAL_STACK_TARGET, "x"),
    )


def _local_network_rows(options: Options) -> tuple[list[Row], list[str]]:
    """The local network as `make run` runs it: speed, growth, emulator scaling, event delay."""
    _progress(f"local network: 10,000 signed earns, {options.threads} threads, one network")
    growth = measure_growth(options.threads, options.workers)
    # Every thousand took 1000 / rate seconds: the whole run's rate is their harmonic mean.
    overall = len(growth.rates_per_thousand) / sum(1 / r for r in growth.rates_per_thousand)
    failed = f", {growth.failed} failed" if growth.failed else ""
    rows = [
        Row(
            f"make run: signed earns/s through the local server, {growth.threads} client threads",
            f"{overall:.1f}/s over 10,000 earns (first thousand {growth.first:.1f}/s){failed}",
            f"≥ {LOCAL_EARNS_TARGET:g}/s",
            at_least(overall, LOCAL_EARNS_TARGET, "/s", digits=1),
        ),
        Row(
            "make run: the 10th thousand earns into one network vs the first thousand",
            f"{growth.last:.1f}/s vs {growth.first:.1f}/s = {growth.ratio:.2f}x",
            f"≥ {GROWTH_TARGET}x",
            at_least(growth.ratio, GROWTH_TARGET, "x"),
        ),
    ]
    _progress("local network: emulator TransactWriteItems/s at 1k and 100k items")
    scaling = measure_emulator_scaling()
    rows.append(
        Row(
            f"emulator TransactWriteItems/s, {scaling.large_items // 1000}k items vs "
            f"{scaling.small_items // 1000}k",
            f"{scaling.large_rate:.1f}/s vs {scaling.small_rate:.1f}/s = {scaling.ratio:.2f}x",
            f"≥ {EMULATOR_SCALING_TARGET}x",
            at_least(scaling.ratio, EMULATOR_SCALING_TARGET, "x"),
        )
    )
    _progress("local network: earn's 201 to its points.earned line in the event log")
    latency = measure_event_latency()
    missing = f"; {latency.earns - latency.seen} never seen" if latency.seen < latency.earns else ""
    rows.append(
        Row(
            "make run: an earn's 201 to its points.earned line in .pointsnet/events.jsonl",
            f"p50 {latency.p50_seconds:.2f} s, p99 {latency.p99_seconds:.2f} s, "
            f"max {latency.max_seconds:.2f} s over {latency.earns} earns{missing}",
            f"p99 ≤ {EVENT_LATENCY_TARGET_SECONDS:g} s",
            at_most(latency.p99_seconds, EVENT_LATENCY_TARGET_SECONDS, " s"),
        )
    )
    per_thousand = ", ".join(f"{rate:.0f}" for rate in growth.rates_per_thousand)
    notes = [
        f"make run figures: `local_network()` as `make run` starts it ({options.workers} "
        "workers per function, the stream consumer, the schedules and the event log running), "
        f"signed earns by the SDK (v2) from {growth.threads} threads over loopback to 200 members. "
        f"Earns/s per successive thousand: {per_thousand}.",
        "Emulator scaling: one boto3 client against the local emulator (moto's server with "
        "the undo-log TransactWriteItems), 500 two-item transactions (an entry put and a "
        "conditional balance update) with the ledger table at each size, filled with "
        "entry-sized items by BatchWriteItem.",
        f"Event delay: {latency.earns} sequential earns, one every 50 ms; the template's "
        "stream batching window (1 s) is most of it.",
    ]
    return rows, notes


def _rate_limit_rows(figures: RateLimitFigures) -> list[Row]:
    worst = max(figures.loads, key=lambda load: load.units_per_request)
    hottest = max(figures.loads, key=lambda load: load.budget_writes_per_second)
    measured = "; ".join(
        f"{load.load.name}: {load.units_per_request:.3f}" for load in figures.loads
    )
    return [
        Row(
            "rate limiter: DynamoDB write units per request, steady state",
            measured,
            f"≤ {RATE_LIMIT_UNITS_TARGET:g} WCU",
            at_most(worst.units_per_request, RATE_LIMIT_UNITS_TARGET, " WCU", digits=3),
        ),
        Row(
            "rate limiter: writes/s to a partner's budget item at 5,000 requests/s",
            "; ".join(
                f"{load.load.name}: {load.budget_writes_per_second:.0f}/s"
                for load in figures.loads
                if load.load.per_second == 5000
            ),
            f"≤ {RATE_LIMIT_HOT_ITEM_TARGET}/s",
            at_most(hottest.budget_writes_per_second, RATE_LIMIT_HOT_ITEM_TARGET, "/s", 0),
        ),
        Row(
            "rate limiter: CPU it adds per request, p50 (p99)",
            f"{figures.cpu_p50_us:.1f} µs ({figures.cpu_p99_us:.0f} µs)",
            "no target",
            "no target",
        ),
    ]


def _rate_limit_note(figures: RateLimitFigures) -> str:
    loads = "; ".join(
        f"{load.load.name} (rate {load.load.limit.rate}, burst {load.load.limit.burst}): "
        f"{load.load.per_second}/s round-robin over {load.load.instances} instances, "
        f"{load.accepted} of {load.requests} accepted, {load.write_units:g} WCU in "
        f"{load.budget_writes} UpdateItems"
        for load in figures.loads
    )
    return (
        "Rate limiter: one `RateLimiter` per simulated instance on moto, leasing from the "
        "partner's budget item with the real `RateBudgetStore`, requests on a simulated clock "
        "(8 s measured after 2 s of warm-up); write units counted by the meter, refused "
        f"conditional updates included. {loads}. CPU: `admit` for one instance at 900/s of a "
        "1,000/s limit, process CPU outside AWS calls; p50 is a request served from the "
        "instance's leased block, p99 one that leases."
    )


def _reconciliation_rows(options: Options) -> tuple[list[Row], list[str]]:
    figures = measure_reconciliation(
        options.reconciliation_sizes,
        big_day=options.reconciliation_day_entries,
        flat_day=options.reconciliation_flat_day,
        progress=_progress,
    )
    rows, notes = reconciliation_rows(figures)
    return rows, [*notes, f"Prices used: {LIST_PRICES.describe()}; {RUN_PRICES.describe()}."]


def _unit_target(writes: float | None, reads: float | None) -> str:
    parts = []
    if writes is not None:
        parts.append(f"{units(writes)} WCU")
    if reads is not None:
        parts.append(f"{units(reads)} RCU")
    return ", ".join(parts) or NOT_MEASURED


def _unit_verdict(name: str, value: float, target: float) -> str:
    if value <= target:
        return f"{name} met"
    return f"{name} missed by +{units(value - target)}"


def _dollar_verdict(total: Decimal, target: Decimal | None) -> str:
    if target is None:
        return "no target"
    if total <= target:
        return f"met ({dollars(target - total)} under)"
    return f"missed by {dollars(total - target)} (+{(total - target) / target:.0%})"


def _cost_parts(cost: CostPerMillion, timing: TimingFigures) -> str:
    return (
        f"DynamoDB {dollars(cost.dynamodb)} + Lambda {dollars(cost.lambda_requests)} requests "
        f"+ {dollars(cost.lambda_duration)} duration ({timing.mean_billed_ms:.0f} ms) "
        f"+ API {dollars(cost.api)}"
    )


def _program_rows(options: Options) -> tuple[list[Row], list[str]]:
    """An earn by amount beside a plain earn, measured alike, and the metrics request."""
    measured = {}
    for scenario in SCENARIOS:
        if scenario.name in ("earn", "earn by amount"):
            _progress(f"{scenario.name}: units over {options.count_requests} requests, timing")
            measured[scenario.name] = (
                measure_capacity(scenario, options.count_requests),
                measure_timing(scenario, options.timed_requests),
            )
    (plain, plain_timing), (by_amount, by_amount_timing) = (
        measured["earn"],
        measured["earn by amount"],
    )
    rows = [
        _cpu_row(scenario, measured[scenario.name][1])
        for scenario in SCENARIOS
        if scenario.name in measured
    ]
    rows += earning_rule_rows(plain, by_amount, plain_timing, by_amount_timing)
    _progress("program metrics: items a metrics request reads")
    metric_rows, metric_notes = metrics_rows()
    return [*rows, *metric_rows], metric_notes


def _progress(message: str) -> None:
    print(f"bench: {message}...", file=sys.stderr, flush=True)
