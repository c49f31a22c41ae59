"""The cold-start rows of the table: every function against bare boto3, side by side."""

from __future__ import annotations

from collections.abc import Callable

from bench.cold_start import FUNCTIONS, LIBRARIES, ColdStart, measure_cold_starts
from bench.report import NOT_MEASURED, Row, at_most

COLD_START_TARGET = 1.5


def cold_start_rows(runs: int, progress: Callable[[str], None]) -> tuple[list[Row], list[str]]:
    """One row per function: its cold start against bare boto3's, runs interleaved."""
    progress(
        f"cold start: {runs} fresh processes per side for each function, "
        "on pointsnet as the layer holds it"
    )
    *colds, floor = measure_cold_starts((*FUNCTIONS, LIBRARIES), runs=runs)
    rows = [_cold_start_row(cold) for cold in colds]
    rows.append(
        Row(
            "cold start floor: the libraries alone (Powertools Logger, Metrics, Tracer and "
            "validating HTTP resolver; one pydantic model; DynamoDB and Secrets Manager "
            "clients) vs bare boto3 + 1 client",
            f"{floor.function_ms:.0f} ms vs {floor.bare_ms:.0f} ms = {floor.ratio:.2f}x "
            f"(CPU {floor.cpu_ratio:.2f}x)",
            NOT_MEASURED,
            NOT_MEASURED,
        )
    )
    where = "; ".join(
        f"{cold.function}: "
        + ", ".join(f"{package} {ms:.0f}" for package, ms in cold.imports_ms[:6])
        for cold in colds
    )
    notes = [
        f"Cold start: median of {runs} fresh processes per side, each function's "
        "runs alternating with bare boto3's, timed from after interpreter start-up, with the "
        "function's Lambda environment (LAMBDA_TASK_ROOT set, so Powertools' Tracer is on as "
        "deployed). The function side imports its handler, builds what its first invocation "
        "builds (bench/cold_start.py FIRST_INVOCATION), builds the validators of the models its "
        "first requests use (bench/first_request_models.json: pointsnet's models build on "
        "first use) and creates the clients its first request uses; pointsnet is staged as "
        "`sam build` stages the layer (no local runtime, CLI or SDK), its dependencies are "
        "the virtualenv's (the layer's are arm64 wheels). "
        "CPU is the process CPU time over the same span: other processes on a busy machine "
        "stretch it less than wall time.",
        f"Where the imports go (`-X importtime`, self ms by package, median of 3): {where}.",
    ]
    return rows, notes


def _cold_start_row(cold: ColdStart) -> Row:
    return Row(
        f"cold start: {cold.function} import + first-request setup + clients vs bare boto3 "
        "+ 1 client",
        f"{cold.function_ms:.0f} ms vs {cold.bare_ms:.0f} ms = {cold.ratio:.2f}x "
        f"(CPU {cold.function_cpu_ms:.0f} ms vs {cold.bare_cpu_ms:.0f} ms = "
        f"{cold.cpu_ratio:.2f}x)",
        f"≤ {COLD_START_TARGET}x",
        at_most(cold.ratio, COLD_START_TARGET, "x"),
    )
