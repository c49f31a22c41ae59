"""The Lambda layer holds what the functions import, and no more (shared/Makefile builds it)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench.__main__ import parse
from bench.cold_start import (
    CLIENT_FACTORIES,
    FIRST_INVOCATION,
    FIRST_REQUEST_MODELS,
    LIBRARIES,
    probe_for,
)

from pointsnet.local.template import LocalStack, functions, load_template, resources_of_type
from pointsnet.model import Model

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = ("local", "cli", "cli.py", "client", "client.py", "credentials.py")
DOMAIN = ("api", "auth", "events", "ledger", "network", "partners", "programs", "settlement")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytest.fixture(scope="module")
def layer_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pointsnet staged by the step `sam build` runs for the layer."""
    artifacts = tmp_path_factory.mktemp("layer")
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT / "shared"),
            "layer-package",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


def test_the_layer_is_built_by_the_shared_makefile() -> None:
    # Given the template's layer
    layer = load_template()["Resources"]["PointsNetLayer"]
    # When its build is read
    metadata, content = layer["Metadata"], layer["Properties"]["ContentUri"]
    makefile = (ROOT / content / "Makefile").read_text(encoding="utf-8")
    # Then sam build runs the Makefile beside its content, which has the layer's target
    assert metadata["BuildMethod"] == "makefile"
    assert metadata["BuildArchitecture"] == "arm64"
    assert "build-PointsNetLayer:" in makefile


def test_the_layer_leaves_out_the_local_runtime_cli_sdk_and_credentials(
    layer_python: Path,
) -> None:
    # Given pointsnet as the layer stages it
    package = layer_python / "pointsnet"
    # When its top level is listed
    names = {path.name for path in package.iterdir()}
    # Then none of the left-out modules is there, every domain package is, compiled
    assert not names & set(LEFT_OUT)
    assert set(DOMAIN) <= names
    assert (package / "__pycache__" / "__init__.cpython-311.pyc").exists()
    # And nothing the package installs locally is lost: the source still has them
    assert (ROOT / "shared" / "pointsnet" / "local").is_dir()


def test_every_handler_imports_with_the_layer_alone(layer_python: Path) -> None:
    # Given every function of the template, with its environment
    specs = functions(load_template(), LocalStack())
    probe = (
        "import importlib, json, sys; importlib.import_module('app'); "
        "print(json.dumps([sys.modules['pointsnet'].__file__, "
        "sorted(m for m in sys.modules if m.startswith('pointsnet.'))]))"
    )
    for logical_id, spec in specs.items():
        environment = {
            "PATH": os.environ.get("PATH", ""),
            **spec.environment,
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": str(layer_python),
        }
        # When its handler module is imported with the layer's pointsnet first on the path
        done = subprocess.run(
            [sys.executable, "-c", probe],
            env=environment,
            cwd=spec.code_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        # Then it imports, from the layer, and loads none of the left-out modules
        assert done.returncode == 0, f"{logical_id}: {done.stderr[-2000:]}"
        origin, modules = json.loads(done.stdout.splitlines()[-1])
        assert Path(origin).is_relative_to(layer_python), logical_id
        left_out = {f"pointsnet.{name.removesuffix('.py')}" for name in LEFT_OUT}
        loaded = {".".join(module.split(".")[:2]) for module in modules}
        assert not loaded & left_out, logical_id


def test_the_cold_start_bench_knows_every_function_and_its_factories() -> None:
    # Given the template's functions and the bench's first-invocation steps
    template_functions = set(resources_of_type(load_template(), "AWS::Serverless::Function"))
    # When each step the bench runs is looked up
    steps = [
        step
        for logical_id in CLIENT_FACTORIES
        for step in (*FIRST_INVOCATION.get(logical_id, ()), *CLIENT_FACTORIES[logical_id])
    ]
    # Then every function is measured, and every factory still exists where the bench looks
    assert set(CLIENT_FACTORIES) == template_functions
    for step in steps:
        module, _, attribute = step.partition(":")
        imported = importlib.import_module(module)
        assert not attribute or callable(getattr(imported, attribute, None)), step


def test_the_cold_start_bench_builds_models_that_exist() -> None:
    # Given the models the bench builds for each function's first requests
    # When each is looked up where the bench looks
    models = {
        name: getattr(importlib.import_module(name.partition(":")[0]), name.partition(":")[2])
        for names in FIRST_REQUEST_MODELS.values()
        for name in names
    }
    # Then every function has its list, and each names a pointsnet model that defers its build
    assert set(FIRST_REQUEST_MODELS) == set(CLIENT_FACTORIES)
    assert all(issubclass(model, Model) for model in models.values())


def test_the_libraries_floor_runs_no_pointsnet_code() -> None:
    # Given the bench's probe of the libraries alone
    libraries = probe_for(LIBRARIES, None)
    # When it runs, told to say which pointsnet modules it loaded
    code = libraries.function_side[2] + (
        "import sys\nprint(sorted(m for m in sys.modules if m.startswith('pointsnet')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=libraries.environment,
        cwd=libraries.cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    # Then it timed itself and loaded none: the floor is the libraries' own
    timing, loaded = done.stdout.strip().splitlines()[-2:]
    assert json.loads(timing)["seconds"] > 0
    assert loaded == "[]"


def test_only_cold_runs_the_cold_start_rows_alone() -> None:
    # Given the bench's command line
    # When --only-cold is given
    options, _ = parse(["--only-cold", "--cold-runs", "3"])
    # Then only the cold-start rows run, with the runs asked for
    assert options.only_cold and options.cold_runs == 3
