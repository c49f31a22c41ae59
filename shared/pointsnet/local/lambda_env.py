"""A Lambda execution environment, locally: what a function runs with and how it is called.

`FunctionRuntime` is a function of the template with its resolved environment, memory,
timeout and import paths (its code, then its layers); `enter_function_environment` makes a
process look like that function's environment, and `lambda_context` is the context object
its handler receives.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pointsnet.local.emulator import SHADOWING_VARIABLES
from pointsnet.local.template import (
    REPO_ROOT,
    FunctionSpec,
    LocalStack,
    functions,
    resources_of_type,
)

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class FunctionRuntime:
    """Everything a worker process needs to run one function; picklable for `spawn`."""

    spec: FunctionSpec
    function_name: str
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: float
    import_paths: tuple[str, ...]
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"


def function_runtimes(
    template: Mapping[str, Any],
    environments: Mapping[str, Mapping[str, str]],
    stack: LocalStack | None = None,
) -> dict[str, FunctionRuntime]:
    """A runtime per function of the template; `environments` comes from `provision`."""
    stack = stack or LocalStack()
    globals_ = template.get("Globals", {}).get("Function", {})
    layer_dirs = _layer_dirs(template)
    runtimes = {}
    for logical_id, spec in functions(template, stack).items():
        props = template["Resources"][logical_id]["Properties"]
        layers = [*globals_.get("Layers", []), *props.get("Layers", [])]
        paths = [
            str(layer_dirs[layer["Ref"]]) for layer in layers if _is_local_layer(layer, layer_dirs)
        ]
        runtimes[logical_id] = FunctionRuntime(
            spec=spec,
            function_name=stack.physical_name(logical_id),
            environment=dict(environments.get(logical_id, spec.environment)),
            memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
            timeout_seconds=float(props.get("Timeout", globals_.get("Timeout", 3))),
            # Lambda puts the function's code first, then its layers.
            import_paths=(str(spec.code_dir), *(paths or [str(REPO_ROOT / "shared")])),
            region=stack.region,
            account=stack.account,
        )
    return runtimes


def _layer_dirs(template: Mapping[str, Any]) -> dict[str, Path]:
    layers = resources_of_type(template, "AWS::Serverless::LayerVersion")
    return {
        logical_id: REPO_ROOT / resource["Properties"]["ContentUri"]
        for logical_id, resource in layers.items()
        if isinstance(resource.get("Properties", {}).get("ContentUri"), str)
    }


def _is_local_layer(layer: Any, layer_dirs: Mapping[str, Path]) -> bool:
    return isinstance(layer, dict) and layer.get("Ref") in layer_dirs


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def lambda_context(runtime: FunctionRuntime, event: Mapping[str, Any]) -> LocalLambdaContext:
    request_id = str(event.get("requestContext", {}).get("requestId", ""))
    return LocalLambdaContext(
        function_name=runtime.function_name,
        memory_limit_in_mb=runtime.memory_mb,
        invoked_function_arn=runtime.arn,
        aws_request_id=request_id,
        deadline=time.monotonic() + runtime.timeout_seconds,
        log_group_name=f"/aws/lambda/{runtime.function_name}",
    )


def lambda_variables(runtime: FunctionRuntime) -> dict[str, str]:
    """The variables Lambda itself sets in an execution environment."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": runtime.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(runtime.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    }


def enter_function_environment(runtime: FunctionRuntime) -> None:
    """Make this process look like the function's execution environment."""
    for name in SHADOWING_VARIABLES:
        os.environ.pop(name, None)
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")]:
        if name not in runtime.environment:
            del os.environ[name]
    os.environ.update(runtime.environment)
    os.environ.update(lambda_variables(runtime))
    for path in reversed(runtime.import_paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    # Metrics are disabled locally, so Powertools' "no metrics" warning is noise here.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def environment_snapshot(runtimes: Collection[FunctionRuntime]) -> dict[str, str | None]:
    """This process's value of every variable entering these functions' environments changes."""
    names = {name for runtime in runtimes for name in runtime.environment}
    names |= set(SHADOWING_VARIABLES)
    names |= {name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")}
    names |= {name for runtime in runtimes for name in lambda_variables(runtime)}
    return {name: os.environ.get(name) for name in names}


def restore_environment(snapshot: Mapping[str, str | None]) -> None:
    """Put back the variables of an `environment_snapshot`, unsetting those that were unset."""
    for name, value in snapshot.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
