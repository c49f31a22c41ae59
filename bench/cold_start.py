"""Cold start: import a function's handler module and create its clients, in a fresh process.

Both sides run in a new interpreter with the environment Lambda gives the function
(LAMBDA_TASK_ROOT set, so Powertools' Tracer is on, as deployed with `Tracing: Active`) and
the function's folder as working directory; the clock starts after interpreter start-up,
which both share. Runs alternate between the two sides, and each side's median is kept.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

from bench.network import FAKE_AWS

# The clients each function creates on its first request, by factory; add functions as they land.
CLIENT_FACTORIES: dict[str, tuple[str, ...]] = {
    "PartnerApiFunction": (
        "pointsnet.store.dynamo:dynamodb_client",
        "pointsnet.store.key_secrets:secretsmanager_client",
    ),
}

_FUNCTION_SIDE = """
import importlib, json, sys, time
started = time.perf_counter()
module = importlib.import_module(sys.argv[1])
for factory in sys.argv[2:]:
    name, _, attribute = factory.partition(":")
    getattr(importlib.import_module(name), attribute)()
print(json.dumps(time.perf_counter() - started))
"""

_BARE_SIDE = """
import json, time
started = time.perf_counter()
import boto3
boto3.client("dynamodb")
print(json.dumps(time.perf_counter() - started))
"""


@dataclass(frozen=True)
class ColdStart:
    function: str
    function_ms: float
    bare_ms: float
    runs: int
    # Import time of the function side by top-level package (self times summed), largest first.
    imports_ms: tuple[tuple[str, float], ...] = ()

    @property
    def ratio(self) -> float:
        return self.function_ms / self.bare_ms


def measure_cold_start(logical_id: str = "PartnerApiFunction", runs: int = 7) -> ColdStart:
    from pointsnet.local.template import LocalStack, functions, load_template

    spec = functions(load_template(), LocalStack())[logical_id]
    module = spec.handler.rpartition(".")[0]
    environment = {
        "PATH": os.environ.get("PATH", ""),
        **spec.environment,
        **FAKE_AWS,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    }
    function_side = [sys.executable, "-c", _FUNCTION_SIDE, module, *CLIENT_FACTORIES[logical_id]]
    bare_side = [sys.executable, "-c", _BARE_SIDE]
    function_times: list[float] = []
    bare_times: list[float] = []
    for _ in range(runs):
        function_times.append(_run(function_side, environment, str(spec.code_dir)))
        bare_times.append(_run(bare_side, environment, str(spec.code_dir)))
    return ColdStart(
        function=logical_id,
        function_ms=statistics.median(function_times) * 1000,
        bare_ms=statistics.median(bare_times) * 1000,
        runs=runs,
        imports_ms=_import_breakdown(function_side, environment, str(spec.code_dir)),
    )


def _import_breakdown(
    command: list[str], environment: dict[str, str], cwd: str
) -> tuple[tuple[str, float], ...]:
    """Where the imports' time goes: `-X importtime` self times summed by top-level package."""
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    by_package: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if not self_us.isdigit():
            continue  # the header line
        package = name.split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(self_us) / 1000
    return tuple(sorted(by_package.items(), key=lambda item: -item[1]))


def _run(command: list[str], environment: dict[str, str], cwd: str) -> float:
    done = subprocess.run(
        command, env=environment, cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start probe failed: {done.stderr.strip()[-2000:]}")
    seconds: float = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds
