"""Cold start: import a function's handler module, build what its first invocation builds and
create its clients, in a fresh process.

Both sides run in a new interpreter with the environment Lambda gives the function
(LAMBDA_TASK_ROOT set, so Powertools' Tracer is on, as deployed with `Tracing: Active`) and
the function's folder as working directory; the clock starts after interpreter start-up,
which both share. Runs alternate between each function and bare boto3, function after
function, and each side's median is kept.

The function side imports pointsnet as the layer holds it: `make -C shared layer-package`
(the step `sam build` runs for PointsNetLayer) stages it in a temporary directory put first
on PYTHONPATH, so a module the layer leaves out cannot be imported. The layer's dependencies
are arm64 wheels that this machine may not load; the project's virtualenv stands in for them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.network import FAKE_AWS
from pointsnet.model import Model

SHARED = Path(__file__).resolve().parent.parent / "shared"

_DYNAMODB = "pointsnet.store.dynamo:dynamodb_client"
_SECRETS = "pointsnet.store.key_secrets:secretsmanager_client"
_S3 = "pointsnet.store.report_bucket:s3_client"
_EVENTS = "pointsnet.store.event_bus:events_client"

# The clients each function creates on its first request, by factory.
CLIENT_FACTORIES: dict[str, tuple[str, ...]] = {
    # A signed request reads the key's directory items and its secret, then the ledger.
    "PartnerApiFunction": (_DYNAMODB, _SECRETS),
    "AdminApiFunction": (_DYNAMODB, _SECRETS),
    "FinanceApiFunction": (_DYNAMODB, _SECRETS),
    "ProgramsApiFunction": (_DYNAMODB, _SECRETS),
    # A run's steps read the journal and the ledger, write the settlement and its reports, and
    # announce it.
    "ReconciliationFunction": (_DYNAMODB, _S3, _EVENTS),
    "LifecycleFunction": (_DYNAMODB,),
    # Stream records arrive in the event; the outbox only publishes them.
    "EventsFunction": (_EVENTS,),
    # Stream records arrive in the event; the journal writes objects and moves chain heads.
    "JournalFunction": (_S3, _DYNAMODB),
    # A day's run lists the programs, then reads the journal's shards and writes their days.
    "MetricsFunction": (_DYNAMODB, _S3),
    # A batch reads the import and the program's policy, then posts to the ledger.
    "ImportFunction": (_DYNAMODB, _S3),
    # A batch's events arrive in the event; each reads its webhook and secret, then may
    # put a failed one back on its queue.
    "WebhookFunction": (_DYNAMODB, _SECRETS, "pointsnet.store.webhook_queue:sqs_client"),
}
FUNCTIONS: tuple[str, ...] = tuple(CLIENT_FACTORIES)

_WIRING = "pointsnet.wiring"
_KEYS = f"{_WIRING}:default_key_resolver"
_RATE_LIMITER = f"{_WIRING}:default_rate_limiter"

# What a function's first invocation builds before its first AWS call, beyond what importing
# its handler module builds: the lazy factories it calls ("module:attribute") and the modules
# it imports lazily ("module"), in the order it reaches them. A handler that defers work to
# its first request is timed with that work.
FIRST_INVOCATION: dict[str, tuple[str, ...]] = {
    "PartnerApiFunction": (_KEYS, _RATE_LIMITER, f"{_WIRING}:default_ledger"),
    "AdminApiFunction": (_KEYS, _RATE_LIMITER, f"{_WIRING}:default_partner_directory"),
    "FinanceApiFunction": (_KEYS, _RATE_LIMITER, f"{_WIRING}:default_settlements"),
    "ProgramsApiFunction": (_KEYS, _RATE_LIMITER, f"{_WIRING}:default_earning_rules"),
    "ReconciliationFunction": (
        f"{_WIRING}:default_reconciler",
        # announce_settlement imports it once a run has produced its settlement.
        "pointsnet.events.settlement",
    ),
    "LifecycleFunction": (f"{_WIRING}:default_sweeper",),
    "EventsFunction": (f"{_WIRING}:default_outbox",),
    "JournalFunction": (f"{_WIRING}:default_journal_writer",),
    "MetricsFunction": (f"{_WIRING}:default_program_metrics",),
    "ImportFunction": (f"{_WIRING}:default_imports",),
    "WebhookFunction": (f"{_WIRING}:default_webhook_inbox",),
}

# pointsnet's models build their validators on first use (pointsnet/model.py), so a first
# request builds the ones it touches: by function, the models its samples' requests in
# events/ complete ("module:Model"), each built here with `model_rebuild`. A test of
# tests/integration/test_sample_events.py checks that a sample builds no model missing here.
FIRST_REQUEST_MODELS: dict[str, tuple[str, ...]] = {
    function: tuple(models)
    for function, models in json.loads(
        (Path(__file__).with_name("first_request_models.json")).read_text()
    ).items()
}

_FUNCTION_SIDE = """
import functools, importlib, json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
module = importlib.import_module(sys.argv[1])
for step in sys.argv[2:]:
    name, _, attribute = step.partition(":")
    imported = importlib.import_module(name)
    if attribute:
        functools.reduce(getattr, attribute.split("."), imported)()
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({"seconds": elapsed, "cpu": cpu, "pointsnet": sys.modules["pointsnet"].__file__}))
"""

# The libraries an API function starts on, alone: Powertools' Logger, Metrics and Tracer
# (botocore patched, as pointsnet.observability sets it up), its validating HTTP resolver, one
# pydantic model built, and the two clients of a signed request. No pointsnet code runs: this
# is the floor an API function's cold start cannot go under on these libraries.
LIBRARIES = "libraries alone"
_LIBRARIES_SIDE = """
import json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger(), Tracer(patch_modules=("botocore",)), Metrics()
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
APIGatewayHttpResolver(enable_validation=True)
from pydantic import BaseModel
class Earn(BaseModel):
    points: int
Earn.model_validate({"points": 1})
boto3.client("dynamodb"), boto3.client("secretsmanager")
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({"seconds": elapsed, "cpu": cpu, "pointsnet": None}))
"""

_BARE_SIDE = """
import json, time
started, cpu_started = time.perf_counter(), time.process_time()
import boto3
boto3.client("dynamodb")
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({"seconds": elapsed, "cpu": cpu}))
"""


@dataclass(frozen=True)
class ColdStart:
    function: str
    function_ms: float
    bare_ms: float
    runs: int
    # Process CPU time over the same span: what a busy machine's other processes do not stretch.
    function_cpu_ms: float = 0.0
    bare_cpu_ms: float = 0.0
    # Import time of the function side by top-level package (self times summed), largest first.
    imports_ms: tuple[tuple[str, float], ...] = ()
    # Whether the function side imported pointsnet as the layer holds it.
    layer: bool = False

    @property
    def ratio(self) -> float:
        return self.function_ms / self.bare_ms

    @property
    def cpu_ratio(self) -> float:
        return self.function_cpu_ms / self.bare_cpu_ms


@dataclass(frozen=True)
class Probe:
    function: str
    function_side: list[str]
    bare_side: list[str]
    environment: dict[str, str]
    cwd: str
    staged: bool = True  # the function side imports pointsnet from the staged layer


def measure_cold_starts(
    logical_ids: Sequence[str] = FUNCTIONS, runs: int = 7, layer: bool = True
) -> list[ColdStart]:
    """Every function in `logical_ids` against bare boto3, their runs interleaved."""
    with _layer_python(layer) as python_dir:
        probes = [probe_for(logical_id, python_dir) for logical_id in logical_ids]
        function_times: dict[str, list[tuple[float, float]]] = {p.function: [] for p in probes}
        bare_times: dict[str, list[tuple[float, float]]] = {p.function: [] for p in probes}
        for _ in range(runs):
            for probe in probes:
                function_times[probe.function].append(
                    _run(
                        probe.function_side,
                        probe.environment,
                        probe.cwd,
                        python_dir if probe.staged else None,
                    )
                )
                bare_times[probe.function].append(
                    _run(probe.bare_side, probe.environment, probe.cwd)
                )
        results = []
        for probe in probes:
            function_wall, function_cpu = _medians_ms(function_times[probe.function])
            bare_wall, bare_cpu = _medians_ms(bare_times[probe.function])
            results.append(
                ColdStart(
                    function=probe.function,
                    function_ms=function_wall,
                    bare_ms=bare_wall,
                    runs=runs,
                    function_cpu_ms=function_cpu,
                    bare_cpu_ms=bare_cpu,
                    imports_ms=_import_breakdown(probe.function_side, probe.environment, probe.cwd),
                    layer=python_dir is not None,
                )
            )
        return results


def _medians_ms(times: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        statistics.median(wall for wall, _ in times) * 1000,
        statistics.median(cpu for _, cpu in times) * 1000,
    )


def measure_cold_start(logical_id: str = "PartnerApiFunction", runs: int = 7) -> ColdStart:
    return measure_cold_starts((logical_id,), runs)[0]


def probe_for(logical_id: str, python_dir: Path | None) -> Probe:
    from pointsnet.local.template import LocalStack, functions, load_template

    if logical_id == LIBRARIES:
        partner = probe_for("PartnerApiFunction", None)
        return replace(
            partner,
            function=LIBRARIES,
            function_side=[sys.executable, "-c", _LIBRARIES_SIDE],
            staged=False,
        )
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
    if python_dir is not None:
        environment["PYTHONPATH"] = str(python_dir)
    return Probe(
        function=logical_id,
        function_side=[
            sys.executable,
            "-c",
            _FUNCTION_SIDE,
            module,
            *FIRST_INVOCATION.get(logical_id, ()),
            *(
                f"{model}.model_rebuild"
                for model in _leaves_first(FIRST_REQUEST_MODELS[logical_id])
            ),
            *CLIENT_FACTORIES[logical_id],
        ],
        bare_side=[sys.executable, "-c", _BARE_SIDE],
        environment=environment,
        cwd=str(spec.code_dir),
    )


def _leaves_first(models: Sequence[str]) -> list[str]:
    """`models` ("module:Model"), each after the listed models its fields hold: a request
    builds a model's parts before the whole, and a part built first is reused, not rebuilt
    inside the whole."""
    classes = {
        name: getattr(importlib.import_module(module), attribute)
        for name in models
        for module, _, attribute in [name.partition(":")]
    }
    names = {model: name for name, model in classes.items()}
    ordered: list[str] = []

    def visit(model: type[Model]) -> None:
        if model in seen:
            return
        seen.add(model)
        for part in sorted(_parts(model), key=lambda part: part.__qualname__):
            visit(part)
        if model in names:
            ordered.append(names[model])

    seen: set[type[Model]] = set()
    for model in classes.values():
        visit(model)
    return ordered


def _parts(model: type[Model]) -> set[type[Model]]:
    """The models a model's fields hold, however nested in lists, unions or optionals."""
    parts: set[type[Model]] = set()
    annotations = [field.annotation for field in model.model_fields.values()]
    while annotations:
        annotation = annotations.pop()
        if isinstance(annotation, type) and issubclass(annotation, Model):
            parts.add(annotation)
        else:
            annotations.extend(typing.get_args(annotation))
    return parts


@contextlib.contextmanager
def _layer_python(layer: bool) -> Iterator[Path | None]:
    """The layer's python/ directory with pointsnet staged as `sam build` stages it."""
    if not layer:
        yield None
        return
    artifacts = Path(tempfile.mkdtemp(prefix="pointsnet-layer-"))
    try:
        subprocess.run(
            [
                "make",
                "--no-print-directory",
                "-s",
                "-C",
                str(SHARED),
                "layer-package",
                f"ARTIFACTS_DIR={artifacts}",
                f"PYTHON={sys.executable}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        yield artifacts / "python"
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)


def _import_breakdown(
    command: list[str], environment: dict[str, str], cwd: str, runs: int = 3
) -> tuple[tuple[str, float], ...]:
    """Where the imports' time goes: `-X importtime` self times summed by top-level package,
    the median of `runs` processes."""
    processes: list[dict[str, float]] = []
    for _ in range(runs):
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
            parts = (part.strip() for part in line.removeprefix("import time:").split("|"))
            self_us, _, name = parts
            if not self_us.isdigit():
                continue  # the header line
            package = name.split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(self_us) / 1000
        processes.append(by_package)
    packages = {package for by_package in processes for package in by_package}
    medians = {
        package: statistics.median(by_package.get(package, 0.0) for by_package in processes)
        for package in packages
    }
    return tuple(sorted(medians.items(), key=lambda item: -item[1]))


def _run(
    command: list[str], environment: dict[str, str], cwd: str, layer: Path | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds the probe reports."""
    done = subprocess.run(
        command, env=environment, cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start probe failed: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if layer is not None and not Path(result["pointsnet"]).is_relative_to(layer):
        raise RuntimeError(f"pointsnet came from {result['pointsnet']}, not the layer {layer}")
    return float(result["seconds"]), float(result["cpu"])
