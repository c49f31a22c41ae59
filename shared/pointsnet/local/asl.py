"""Amazon States Language, run locally: the part of it template.yaml's state machines use.

`StateMachine` walks a definition as Step Functions does: Task (`lambda:invoke`, or a function
ARN as the resource), Map (inline and distributed), Parallel, Pass, Wait, Choice, Succeed and
Fail, with InputPath, Parameters, ResultSelector, ResultPath and OutputPath, Retry and Catch.
It calls functions through an `invoke(logical_id, payload)` callback and reads a Distributed
Map's S3 items (`ItemReader`, CSV or JSON, batched by `ItemBatcher`) through a
`read_object(bucket, key)` one, and knows nothing of processes or the emulator. What it does
not run (JSONata, intrinsic functions, other item readers, callbacks...) raises
`UnsupportedFeature` naming it, when the definition is read if it can.
"""

from __future__ import annotations

import copy
import json
import operator
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pointsnet.local.asl_check import LAMBDA_INVOKE, UnsupportedFeature, check_definition
from pointsnet.local.item_reader import ReadObject, batches, read_items

Invoke = Callable[[str, Any], Any]
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


# Choice comparators: the type both sides must have, and the comparison.
_COMPARE: dict[str, tuple[Callable[[Any], bool], Callable[[Any, Any], bool]]] = {
    f"{kind}{suffix}": (typed, compare)
    for kind, typed in (("String", _is_string), ("Numeric", _is_number))
    for suffix, compare in (
        ("Equals", operator.eq),
        ("LessThan", operator.lt),
        ("GreaterThan", operator.gt),
        ("LessThanEquals", operator.le),
        ("GreaterThanEquals", operator.ge),
    )
} | {"BooleanEquals": (_is_boolean, operator.eq)}


class StatesError(Exception):
    """A States Language error: a name Retry and Catch match on, and its cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class ExecutionStopped(Exception):
    """The execution was stopped from outside (the network is shutting down); not catchable."""


def read_path(path: Any, value: Any, context: Mapping[str, Any]) -> Any:
    """`$...` against the state's input, `$$...` against the context object."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise StatesError("States.Runtime", f"{path!r} is not a JSONPath")
    document = context if path.startswith("$$") else value
    found: Any = document
    for step in _steps(path[1:] if path.startswith("$$") else path):
        indexed = isinstance(step, int) and isinstance(found, list) and step < len(found)
        keyed = isinstance(step, str) and isinstance(found, dict) and step in found
        if not (indexed or keyed):
            raise StatesError("States.Runtime", f"the JSONPath {path!r} matches nothing")
        found = found[step]
    return found


def build(template: Any, value: Any, context: Mapping[str, Any]) -> Any:
    """A payload template (Parameters, ItemSelector...): keys ending in `.$` are paths."""
    if isinstance(template, list):
        return [build(item, value, context) for item in template]
    if not isinstance(template, dict):
        return template
    built = {}
    for key, item in template.items():
        if not key.endswith(".$"):
            built[key] = build(item, value, context)
        elif isinstance(item, str) and item.startswith("States."):
            raise UnsupportedFeature(f"intrinsic function {item.split('(', 1)[0]} ({key})")
        else:
            built[key[:-2]] = copy.deepcopy(read_path(item, value, context))
    return built


def put_result(path: Any, document: Any, result: Any) -> Any:
    """ResultPath: where the result goes in the state's input (None: the input, unchanged)."""
    if path is None:
        return document
    steps = _steps(path)
    if not steps:
        return result
    if not isinstance(document, dict):
        raise StatesError("States.Runtime", f"ResultPath {path!r} needs an object input")
    merged = copy.deepcopy(document)
    cursor = merged
    for step in steps[:-1]:
        if not isinstance(step, str):
            raise UnsupportedFeature(f"an array index in ResultPath {path!r}")
        cursor = cursor.setdefault(step, {})
        if not isinstance(cursor, dict):
            raise StatesError("States.Runtime", f"ResultPath {path!r} crosses a non-object")
    if not isinstance(steps[-1], str):
        raise UnsupportedFeature(f"an array index in ResultPath {path!r}")
    cursor[steps[-1]] = result
    return merged


def _steps(path: Any) -> list[str | int]:
    if not isinstance(path, str) or not path.startswith("$"):
        raise StatesError("States.Runtime", f"{path!r} is not a JSONPath")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise UnsupportedFeature(f"JSONPath syntax {path!r}")
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (name if name else quoted))
        position = match.end()
    return steps


def _matches(names: list[str], error: str) -> bool:
    if error == "States.Runtime":
        return False  # as on AWS: neither retried nor caught
    return any(
        name == error
        or name == "States.ALL"
        or (name == "States.TaskFailed" and error != "States.Timeout")
        for name in names
    )


class StateMachine:
    """One definition, run with `run(input)`: its output, or a StatesError it failed with.

    `functions` maps what the definition calls a function (ARN, name) to its logical id, for
    `invoke`. Map iterations and Parallel branches run on threads, at most `max_workers` at
    once per state. `sleep` waits between retries and in Wait states (tests pass no wait).
    `should_stop` is asked before each state; when it says so, ExecutionStopped is raised.
    """

    def __init__(
        self,
        definition: Mapping[str, Any],
        invoke: Invoke,
        *,
        functions: Mapping[str, str] | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        max_workers: int = 8,
        should_stop: Callable[[], bool] | None = None,
        read_object: ReadObject | None = None,
    ) -> None:
        check_definition(definition)
        self._read_object = read_object
        self.definition = definition
        self._invoke = invoke
        self._functions = functions
        self._sleep = sleep
        self._max_workers = max(1, max_workers)
        self._should_stop = should_stop or (lambda: False)

    def run(
        self,
        execution_input: Any,
        *,
        name: str = "local",
        execution_id: str = "",
        state_machine_id: str = "",
    ) -> Any:
        started = _now()
        context = {
            "Execution": {
                "Id": execution_id or f"local:execution:{name}",
                "Name": name,
                "Input": copy.deepcopy(execution_input),
                "StartTime": started,
            },
            "StateMachine": {"Id": state_machine_id, "Name": state_machine_id.rsplit(":", 1)[-1]},
        }
        return self._run_states(self.definition, execution_input, context)

    def _run_states(self, machine: Mapping[str, Any], value: Any, context: dict[str, Any]) -> Any:
        name = machine["StartAt"]
        while True:
            if self._should_stop():
                raise ExecutionStopped(name)
            state = machine["States"][name]
            state_context = {**context, "State": {"Name": name, "EnteredTime": _now()}}
            try:
                value, following = self._with_retries(state, value, state_context)
            except StatesError as error:
                catcher = next(
                    (c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], error.error)),
                    None,
                )
                if catcher is None:
                    raise
                problem = {"Error": error.error, "Cause": error.cause}
                value = put_result(catcher.get("ResultPath", "$"), value, problem)
                following = catcher["Next"]
            if following is None:
                return value
            name = following

    def _with_retries(
        self, state: Mapping[str, Any], value: Any, context: dict[str, Any]
    ) -> tuple[Any, str | None]:
        attempts: dict[int, int] = {}
        while True:
            try:
                return self._run_state(state, value, context)
            except StatesError as error:
                found = next(
                    (
                        (index, retrier)
                        for index, retrier in enumerate(state.get("Retry", []))
                        if _matches(retrier["ErrorEquals"], error.error)
                    ),
                    None,
                )
                if found is None:
                    raise
                index, retrier = found
                done = attempts.get(index, 0)
                if done >= int(retrier.get("MaxAttempts", 3)):
                    raise
                attempts[index] = done + 1
                delay = float(retrier.get("IntervalSeconds", 1)) * float(
                    retrier.get("BackoffRate", 2.0)
                ) ** float(done)
                self._sleep(min(delay, float(retrier.get("MaxDelaySeconds", delay))))
                if self._should_stop():
                    raise ExecutionStopped(context["State"]["Name"]) from error

    def _run_state(
        self, state: Mapping[str, Any], value: Any, context: dict[str, Any]
    ) -> tuple[Any, str | None]:
        kind = state["Type"]
        following = None if state.get("End") else state.get("Next")
        if kind == "Choice":
            chosen = _input_path(state, value, context)
            for rule in state["Choices"]:
                if _rule(rule, chosen, context):
                    return _output_path(state, chosen, context), rule["Next"]
            if "Default" not in state:
                raise StatesError("States.NoChoiceMatched", f"no choice of {state} matched")
            return _output_path(state, chosen, context), state["Default"]
        if kind == "Wait":
            self._sleep(_wait_seconds(state, value, context))
            return _output_path(state, _input_path(state, value, context), context), following
        if kind == "Succeed":
            return _output_path(state, _input_path(state, value, context), context), None
        if kind == "Fail":
            raise StatesError(str(state.get("Error", "States.Fail")), str(state.get("Cause", "")))
        effective = _input_path(state, value, context)
        if kind == "Map":
            result: Any = self._map(state, effective, context)
        else:
            if "Parameters" in state:
                effective = build(state["Parameters"], effective, context)
            if kind == "Pass":
                result = copy.deepcopy(state["Result"]) if "Result" in state else effective
            elif kind == "Parallel":
                calls = [
                    partial(self._run_states, branch, copy.deepcopy(effective), context)
                    for branch in state["Branches"]
                ]
                result = self._fan_out(calls, len(calls), tolerated=None)
            else:
                result = self._task(state, effective)
        if "ResultSelector" in state:
            result = build(state["ResultSelector"], result, context)
        merged = put_result(state.get("ResultPath", "$"), value, result)
        return _output_path(state, merged, context), following

    def _task(self, state: Mapping[str, Any], parameters: Any) -> Any:
        resource = state["Resource"]
        if resource != LAMBDA_INVOKE:
            return self._call(self._function(resource), parameters)
        if not isinstance(parameters, dict):
            raise StatesError("States.Runtime", "lambda:invoke takes Parameters with FunctionName")
        function = self._function(parameters.get("FunctionName"))
        payload = self._call(function, parameters.get("Payload", {}))
        return {"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}

    def _function(self, reference: Any) -> str:
        if self._functions is None:
            return str(reference)
        name = str(reference)
        if name.startswith("arn:aws:lambda:") and name not in self._functions:
            name = name.split(":")[6]  # arn:aws:lambda:region:account:function:name[:qualifier]
        if name not in self._functions:
            raise StatesError("Lambda.ResourceNotFoundException", f"no function {reference}")
        return self._functions[name]

    def _call(self, function: str, payload: Any) -> Any:
        try:
            result = self._invoke(function, json.loads(json.dumps(payload)))
        except (StatesError, ExecutionStopped, UnsupportedFeature):
            raise
        except Exception as exc:
            raise StatesError(type(exc).__name__, str(exc)) from exc
        return json.loads(json.dumps(result))  # as it would come back over the wire

    def _map(self, state: Mapping[str, Any], effective: Any, context: dict[str, Any]) -> Any:
        items = self._items(state, effective, context)
        selector = state.get("ItemSelector", state.get("Parameters"))
        processor = state.get("ItemProcessor") or state["Iterator"]
        distributed = processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        if selector is not None:
            items = [
                build(selector, effective, {**context, "Map": {"Item": {"Index": i, "Value": v}}})
                for i, v in enumerate(items)
            ]
        if "ItemBatcher" in state:
            extra = build(state["ItemBatcher"].get("BatchInput"), effective, context)
            items = batches(state["ItemBatcher"], items, extra)
        tolerated = None
        if distributed:
            count = int(state.get("ToleratedFailureCount", 0))
            percentage = float(state.get("ToleratedFailurePercentage", 0))
            tolerated = max(count, int(len(items) * percentage / 100))
        calls = [partial(self._run_states, processor, item, context) for item in items]
        if "MaxConcurrencyPath" in state:
            limit = int(read_path(state["MaxConcurrencyPath"], effective, context))
        else:
            limit = int(state.get("MaxConcurrency", 0))
        return self._fan_out(calls, limit or len(items), tolerated)

    def _items(self, state: Mapping[str, Any], effective: Any, context: dict[str, Any]) -> Any:
        if "ItemReader" not in state:
            items = read_path(state.get("ItemsPath", "$"), effective, context)
            if not isinstance(items, list):
                raise StatesError(
                    "States.Runtime", f"ItemsPath {state.get('ItemsPath', '$')} is no array"
                )
            return items
        reader = state["ItemReader"]
        where = build(reader.get("Parameters", {}), effective, context)
        if self._read_object is None:
            raise UnsupportedFeature("an ItemReader, with no read_object to read S3 through")
        try:
            return read_items(reader, self._read_object(str(where["Bucket"]), str(where["Key"])))
        except Exception as exc:
            raise StatesError("States.ItemReaderFailed", f"{type(exc).__name__}: {exc}") from exc

    def _fan_out(
        self, calls: Sequence[Callable[[], Any]], limit: int, tolerated: int | None
    ) -> list[Any]:
        """Run calls on threads, results in order. tolerated=None: the first failure fails all."""
        if not calls:
            return []
        workers = max(1, min(limit, self._max_workers, len(calls)))
        with ThreadPoolExecutor(workers, thread_name_prefix="asl") as pool:
            futures: list[Future[Any]] = [pool.submit(call) for call in calls]
            if tolerated is None:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                first = next((f.exception() for f in futures if f in done and f.exception()), None)
                if first is not None:
                    for future in futures:
                        future.cancel()  # those not started yet; running ones finish
                    raise first
        results: list[Any] = []
        failures: list[StatesError] = []
        for future in futures:
            problem = future.exception()
            if problem is None:
                results.append(future.result())
            elif isinstance(problem, StatesError):
                failures.append(problem)
                results.append({"Error": problem.error, "Cause": problem.cause})
            else:
                raise problem
        if failures and len(failures) > (tolerated or 0):
            first = failures[0]
            raise StatesError(
                "States.ExceedToleratedFailureThreshold",
                f"{len(failures)} of {len(calls)} items failed; the first with {first.error}: "
                f"{first.cause}",
            )
        return results


def _input_path(state: Mapping[str, Any], value: Any, context: Mapping[str, Any]) -> Any:
    if "InputPath" in state and state["InputPath"] is None:
        return {}
    return read_path(state.get("InputPath", "$"), value, context)


def _output_path(state: Mapping[str, Any], value: Any, context: Mapping[str, Any]) -> Any:
    if "OutputPath" in state and state["OutputPath"] is None:
        return {}
    return read_path(state.get("OutputPath", "$"), value, context)


def _rule(rule: Mapping[str, Any], value: Any, context: Mapping[str, Any]) -> bool:
    if "And" in rule:
        return all(_rule(inner, value, context) for inner in rule["And"])
    if "Or" in rule:
        return any(_rule(inner, value, context) for inner in rule["Or"])
    if "Not" in rule:
        return not _rule(rule["Not"], value, context)
    variable = rule["Variable"]
    try:
        actual, present = read_path(variable, value, context), True
    except StatesError:
        actual, present = None, False
    for key, expected in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key == "IsPresent":
            return present == bool(expected)
        if not present:
            raise StatesError("States.Runtime", f"Invalid path {variable}: nothing there")
        checks = {
            "IsNull": actual is None,
            "IsString": isinstance(actual, str),
            "IsBoolean": isinstance(actual, bool),
            "IsNumeric": _is_number(actual),
        }
        if key in checks:
            return checks[key] == bool(expected)
        comparator = key.removesuffix("Path")
        if comparator not in _COMPARE:
            raise UnsupportedFeature(f"Choice comparator {key}")
        target = read_path(expected, value, context) if key.endswith("Path") else expected
        typed, compare = _COMPARE[comparator]
        return typed(actual) and typed(target) and bool(compare(actual, target))
    raise UnsupportedFeature(f"Choice rule without a comparator: {dict(rule)}")


def _wait_seconds(state: Mapping[str, Any], value: Any, context: Mapping[str, Any]) -> float:
    if "Seconds" in state:
        return float(state["Seconds"])
    if "SecondsPath" in state:
        return float(read_path(state["SecondsPath"], value, context))
    stamp = state.get("Timestamp") or read_path(state["TimestampPath"], value, context)
    moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
