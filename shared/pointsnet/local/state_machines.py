"""Step Functions, run locally: the template's state machines, run by the local runtime.

`state_machines` reads each `AWS::Serverless::StateMachine` of template.yaml with its
`DefinitionSubstitutions` applied; `provision_state_machines` creates them in the emulator.
moto only records executions (they stay RUNNING), so an `ExecutionDriver` polls the emulator
for new executions, runs each with the interpreter of `asl.py`, invoking the functions through
the caller's `invoke`, then ends it with StopExecution (moto's only way to end one) and keeps
its outcome. An execution under way when the driver stops stays RUNNING: a network restored
from saved state runs it again, from its start.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pointsnet.local.asl import (
    ExecutionStopped,
    Invoke,
    ReadObject,
    StateMachine,
    StatesError,
    UnsupportedFeature,
    check_definition,
)
from pointsnet.local.background import Background
from pointsnet.local.template import LocalStack, resources_of_type
from pointsnet.local.workers import InvocationFailed, NoCapacity

logger = logging.getLogger("pointsnet.local.state_machines")

LOCAL_STATES_ROLE = "arn:aws:iam::123456789012:role/local-states"
POLL_SECONDS = 0.2
# How long stopping waits for executions under way to reach their next state.
STOP_GRACE_SECONDS = 10.0
DEFAULT_POOL_SIZE = 8
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


@dataclass(frozen=True)
class StateMachineSpec:
    """One state machine of template.yaml, resolved for the local stack."""

    logical_id: str
    name: str
    definition: dict[str, Any] = field(hash=False)
    # What the definition may call a function (ARN, name, logical id) -> its logical id.
    functions: dict[str, str] = field(hash=False)
    type: str = "STANDARD"

    def interpreter(self, invoke: Invoke, **options: Any) -> StateMachine:
        """An interpreter of the definition; `options` as StateMachine's (sleep, max_workers...)."""
        return StateMachine(self.definition, invoke, functions=self.functions, **options)


def state_machines(
    template: Mapping[str, Any], stack: LocalStack | None = None
) -> dict[str, StateMachineSpec]:
    """Every state machine of the template with its inline definition, by logical id."""
    stack = stack or LocalStack()
    references = function_references(template, stack)
    specs = {}
    for logical_id, resource in resources_of_type(
        template, "AWS::Serverless::StateMachine"
    ).items():
        props = resource.get("Properties", {})
        if "Definition" not in props:
            raise UnsupportedFeature(f"{logical_id}: the local runtime reads inline Definitions")
        name = stack.resolve(props.get("Name"), template) or stack.physical_name(logical_id)
        substitutions = stack.resolve(props.get("DefinitionSubstitutions", {}), template)
        # resolve() builds a new document: the template's own stays as it was.
        definition = _substitute(stack.resolve(props["Definition"], template), substitutions)
        check_definition(definition, logical_id)
        specs[logical_id] = StateMachineSpec(
            logical_id=logical_id,
            name=str(name),
            definition=definition,
            functions=references,
            type=str(props.get("Type", "STANDARD")),
        )
    return specs


def function_references(template: Mapping[str, Any], stack: LocalStack) -> dict[str, str]:
    """Each way a definition can name a function of the template, to its logical id.

    `!GetAtt Function.Arn` resolves, through LocalStack, to whatever `_get_att` makes of a
    function: it is matched as that string, so the two cannot drift apart.
    """
    references: dict[str, str] = {}
    for logical_id, resource in resources_of_type(template, *FUNCTION_TYPES).items():
        names = {stack.resolve({"Ref": logical_id}, template)}
        declared = resource.get("Properties", {}).get("FunctionName")
        if declared is not None:
            names.add(str(stack.resolve(declared, template)))
        for name in names:
            references[name] = logical_id
            references[f"arn:aws:lambda:{stack.region}:{stack.account}:function:{name}"] = (
                logical_id
            )
        references[str(stack.resolve({"Fn::GetAtt": [logical_id, "Arn"]}, template))] = logical_id
        references[logical_id] = logical_id
    return references


def _substitute(value: Any, substitutions: Mapping[str, Any]) -> Any:
    """DefinitionSubstitutions: `${Key}` in the definition's strings (keys too) replaced."""
    if isinstance(value, dict):
        return {
            _substitute(key, substitutions): _substitute(item, substitutions)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_substitute(item, substitutions) for item in value]
    if isinstance(value, str):
        return re.sub(
            r"\$\{([^}]+)\}", lambda match: str(substitutions.get(match[1], match[0])), value
        )
    return value


def provision_state_machines(
    sfn: Any, template: Mapping[str, Any], stack: LocalStack | None = None
) -> dict[str, str]:
    """Create the template's state machines in the emulator (or reuse them); name -> ARN."""
    existing = _existing_state_machines(sfn)
    arns = {}
    for spec in state_machines(template, stack).values():
        definition = json.dumps(spec.definition)
        if spec.name in existing:
            arns[spec.name] = existing[spec.name]
            sfn.update_state_machine(stateMachineArn=arns[spec.name], definition=definition)
            continue
        created = sfn.create_state_machine(
            name=spec.name, definition=definition, roleArn=LOCAL_STATES_ROLE, type=spec.type
        )
        arns[spec.name] = created["stateMachineArn"]
    return arns


def _existing_state_machines(sfn: Any) -> dict[str, str]:
    return {
        machine["name"]: machine["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for machine in page["stateMachines"]
    }


def s3_reader(s3: Any) -> ReadObject:
    """A Distributed Map's `ItemReader`, reading the emulator's S3."""

    def read_object(bucket: str, key: str) -> bytes:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    return read_object


def worker_invoke(invoke_function: Callable[[str, Any], Any]) -> Invoke:
    """An `invoke` over the local functions' workers, their failures named as Lambda's."""

    def invoke(function: str, payload: Any) -> Any:
        try:
            return invoke_function(function, payload)
        except InvocationFailed as exc:
            if isinstance(exc.__cause__, NoCapacity):
                error = "Lambda.TooManyRequestsException"  # a throttle, which Retry covers
            else:
                # workers.py names the handler's exception only in its message.
                raised = re.search(r"the handler raised (\w+)", str(exc))
                error = raised[1] if raised else "Lambda.Unknown"
            raise StatesError(error, str(exc)) from exc

    return invoke


class ExecutionOutcome(NamedTuple):
    """How an execution ended: SUCCEEDED with its output, or FAILED with {Error, Cause}."""

    status: str
    detail: Any


class ExecutionDriver:
    """Runs the emulator's new executions of the template's state machines, each in a thread.

    Map iterations and Parallel branches use at most `pool_size` threads per state: the
    worker pool behind `invoke` should be as large, or items wait for a free worker.
    """

    def __init__(
        self,
        sfn: Any,
        specs: Mapping[str, StateMachineSpec],
        invoke: Invoke,
        pool_size: int = DEFAULT_POOL_SIZE,
        *,
        sleep: Callable[[float], Any] | None = None,
        poll_seconds: float = POLL_SECONDS,
        read_object: ReadObject | None = None,
    ) -> None:
        self._sfn = sfn
        self._read_object = read_object
        self._specs = dict(specs)
        self._invoke = invoke
        self._pool_size = max(1, pool_size)
        self._background = Background("local-states", self._run)
        self._stopping = self._background.stopping
        # Retries wait on the stop signal, so stopping does not wait out a backoff.
        self._sleep = sleep or self._stopping.wait
        self._poll_seconds = poll_seconds
        self._arns: dict[str, StateMachineSpec] = {}
        self._seen: set[str] = set()
        self._outcomes: dict[str, ExecutionOutcome] = {}
        self._ended = threading.Condition()
        self._running: dict[str, threading.Thread] = {}

    def state_machine_arns(self) -> dict[str, str]:
        """The ARN of each state machine the driver runs, by logical id."""
        if not self._arns:
            by_name = {spec.name: spec for spec in self._specs.values()}
            self._arns = {
                arn: by_name[name]
                for name, arn in _existing_state_machines(self._sfn).items()
                if name in by_name
            }
        return {spec.logical_id: arn for arn, spec in self._arns.items()}

    def start(self) -> None:
        self.state_machine_arns()
        self._background.start()

    def stop(self) -> None:
        self._background.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for thread in list(self._running.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def result(self, execution_arn: str) -> ExecutionOutcome | None:
        """How an execution this driver ran ended; None while it runs or if it never ran."""
        with self._ended:
            return self._outcomes.get(execution_arn)

    def wait(self, execution_arn: str, timeout: float = 30.0) -> ExecutionOutcome:
        """Wait for an execution to end; TimeoutError if it has not within `timeout`."""
        with self._ended:
            if not self._ended.wait_for(lambda: execution_arn in self._outcomes, timeout):
                raise TimeoutError(f"{execution_arn} did not end within {timeout:g} s")
            return self._outcomes[execution_arn]

    def poll(self) -> list[threading.Thread]:
        """Start a run of each RUNNING execution not seen before; the threads of those runs."""
        started = []
        if not self._arns and self._specs:
            self.state_machine_arns()  # provisioned after the driver started
        for arn, spec in list(self._arns.items()):
            pages = self._sfn.get_paginator("list_executions").paginate(
                stateMachineArn=arn, statusFilter="RUNNING"
            )
            for execution in (found for page in pages for found in page["executions"]):
                execution_arn = execution["executionArn"]
                if execution_arn in self._seen:
                    continue
                self._seen.add(execution_arn)
                thread = threading.Thread(
                    target=self._execute,
                    args=(spec, execution_arn),
                    name=f"execution-{execution['name']}",
                    daemon=True,
                )
                self._running[execution_arn] = thread
                thread.start()
                started.append(thread)
        return started

    def _run(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            try:
                self.poll()
            except Exception:
                logger.exception("reading the emulator's executions failed")

    def _execute(self, spec: StateMachineSpec, execution_arn: str) -> None:
        try:
            outcome = self._outcome(spec, execution_arn)
            if outcome is None:
                logger.info("%s was under way when the driver stopped", execution_arn)
                return
            logger.info("%s %s", execution_arn, outcome.status)
            failure = outcome.detail if outcome.status == "FAILED" else None
            try:
                self._sfn.stop_execution(
                    executionArn=execution_arn,
                    **(
                        {"error": failure["Error"][:256], "cause": failure["Cause"][:32768]}
                        if failure
                        else {}
                    ),
                )
            except Exception:
                logger.exception("ending %s in the emulator failed", execution_arn)
            with self._ended:
                self._outcomes[execution_arn] = outcome
                self._ended.notify_all()
        finally:
            self._running.pop(execution_arn, None)

    def _outcome(self, spec: StateMachineSpec, execution_arn: str) -> ExecutionOutcome | None:
        try:
            described = self._sfn.describe_execution(executionArn=execution_arn)
            machine = spec.interpreter(
                self._invoke,
                sleep=self._sleep,
                max_workers=self._pool_size,
                should_stop=self._stopping.is_set,
                read_object=self._read_object,
            )
            output = machine.run(
                json.loads(described.get("input") or "{}"),
                name=described["name"],
                execution_id=execution_arn,
                state_machine_id=described["stateMachineArn"],
            )
        except ExecutionStopped:
            return None
        except StatesError as exc:
            return ExecutionOutcome("FAILED", {"Error": exc.error, "Cause": exc.cause})
        except Exception as exc:
            logger.exception("%s could not run", execution_arn)
            cause = f"{type(exc).__name__}: {exc}"
            return ExecutionOutcome("FAILED", {"Error": "States.Runtime", "Cause": cause})
        return ExecutionOutcome("SUCCEEDED", output)
