"""pointsnet.local.state_machines and asl: the template's state machines read, interpreted as
Step Functions runs them, and their executions in moto's Step Functions run to an end."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pointsnet.local.asl import LAMBDA_INVOKE, StateMachine, StatesError, UnsupportedFeature
from pointsnet.local.schedules import LocalScheduler, provision_schedules, template_schedules
from pointsnet.local.state_machines import (
    ExecutionDriver,
    provision_state_machines,
    state_machines,
)
from pointsnet.local.template import LocalStack, load_template
from tests.conftest import FAKE_AWS

STACK = LocalStack()
PLAN = {
    "run_id": "r1",
    "items": [{"day": "2026-01-01", "shard": 0}, {"day": "2026-01-01", "shard": 1}],
}


class Throttled(Exception):
    """Stands in for a throttled Lambda invoke."""


@dataclass
class FakeFunctions:
    """An `invoke` that records each (function, payload) and answers the reconciliation steps.

    The first `failures` calls raise `failure`; `pause` seconds pass inside each call.
    """

    failures: int = 0
    failure: Exception = field(default_factory=lambda: Throttled("slow down"))
    pause: float = 0.0
    calls: list[tuple[str, Any]] = field(default_factory=list)
    peak: int = 0
    _active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function: str, payload: Any) -> Any:
        with self._lock:
            self.calls.append((function, payload))
            self._active += 1
            self.peak = max(self.peak, self._active)
            failing = len(self.calls) <= self.failures
        try:
            time.sleep(self.pause)
            if failing:
                raise self.failure
            return self.answer(payload)
        finally:
            with self._lock:
                self._active -= 1

    @staticmethod
    def answer(payload: Any) -> Any:
        step = payload.get("step") if isinstance(payload, dict) else None
        if step == "plan":
            return PLAN
        if step == "check":
            return {}
        if step == "settle":
            return {"settlement_id": "s"}
        return {"echo": payload}


def task(function: str = "Fn", **fields: Any) -> dict[str, Any]:
    """A lambda:invoke Task state passing its whole input, ending the machine unless told."""
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        **({"End": True} if "Next" not in fields else {}),
        **fields,
    }


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


# -- the interpreter ----------------------------------------------------------------------------


def test_a_lambda_task_returns_the_invoke_answer_shaped_by_its_paths() -> None:
    # Given a task building its payload from the input and the context, a result selector,
    # a ResultPath under the input and an OutputPath
    definition = machine(
        Call=task(
            Parameters={
                "FunctionName": "Fn",
                "Payload": {
                    "fixed": 1,
                    "first.$": "$.orders[0]",
                    "member.$": "$.member.id",
                    "execution.$": "$$.Execution.Name",
                    "id.$": "$$.Execution.Id",
                    "started_with.$": "$$.Execution.Input.member",
                },
            },
            ResultSelector={"echoed.$": "$.Payload.echo", "status.$": "$.StatusCode"},
            ResultPath="$.call",
            OutputPath="$.call",
        )
    )
    functions = FakeFunctions()

    # When it runs
    output = StateMachine(definition, functions).run(
        {"member": {"id": "m-1"}, "orders": ["o-1", "o-2"]}, name="run-1", execution_id="arn:x"
    )

    # Then the function got the built payload, and the output is the selected result
    payload = {
        "fixed": 1,
        "first": "o-1",
        "member": "m-1",
        "execution": "run-1",
        "id": "arn:x",
        "started_with": {"id": "m-1"},
    }
    assert functions.calls == [("Fn", payload)]
    assert output == {"echoed": payload, "status": 200}


def test_a_lambda_task_result_is_the_invoke_response_with_the_payload_in_it() -> None:
    # Given a task with no paths, then one whose result goes under the input
    functions = FakeFunctions()
    whole = StateMachine(machine(Call=task()), functions)
    kept = StateMachine(machine(Call=task(ResultPath="$.answer")), functions)

    # When each runs
    response = whole.run({"step": "check"})
    merged = kept.run({"step": "check"})

    # Then the result is Lambda's Invoke response, as on AWS; ResultPath merges it
    assert response == {"ExecutedVersion": "$LATEST", "Payload": {}, "StatusCode": 200}
    assert merged == {"step": "check", "answer": response}


def test_a_failing_task_is_retried_with_backoff_then_succeeds() -> None:
    # Given a task retried on Throttled, and a function throttled twice
    retry = [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 1, "MaxAttempts": 3}]
    functions = FakeFunctions(failures=2)
    waits: list[float] = []

    # When it runs, with the waits recorded rather than slept
    output = StateMachine(
        machine(Call=task(Retry=retry, OutputPath="$.Payload")), functions, sleep=waits.append
    ).run({"step": "settle"})

    # Then the third attempt succeeded after waits of 1 s and 2 s
    assert output == {"settlement_id": "s"}
    assert len(functions.calls) == 3
    assert waits == [1.0, 2.0]


def test_retries_exhausted_the_error_is_caught_into_the_input() -> None:
    # Given a task retried once on any error, caught into $.error, and a function that fails
    definition = machine(
        Call=task(
            Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 0}],
            Catch=[
                {"ErrorEquals": ["Other"], "Next": "Wrong"},
                {"ErrorEquals": ["Throttled"], "ResultPath": "$.error", "Next": "Recovered"},
            ],
            Next="Done",
        ),
        Done={"Type": "Succeed"},
        Wrong={"Type": "Fail", "Error": "Wrong"},
        Recovered={"Type": "Pass", "Result": "recovered", "ResultPath": "$.outcome", "End": True},
    )
    functions = FakeFunctions(failures=5)

    # When it runs
    output = StateMachine(definition, functions, sleep=lambda seconds: None).run({"a": 1})

    # Then it was tried twice, and the catcher put the error beside the input
    assert len(functions.calls) == 2
    assert output == {
        "a": 1,
        "error": {"Error": "Throttled", "Cause": "slow down"},
        "outcome": "recovered",
    }


def test_an_uncaught_failure_fails_the_run_with_the_exception_class_name() -> None:
    # Given a task with no retry or catch, and a function raising ValueError
    functions = FakeFunctions(failures=1, failure=ValueError("bad period"))

    # When it runs
    # Then the run fails with the error named as the exception's class
    with pytest.raises(StatesError) as failed:
        StateMachine(machine(Call=task()), functions).run({})
    assert (failed.value.error, failed.value.cause) == ("ValueError", "bad period")


def test_a_fail_state_fails_with_its_error_and_cause() -> None:
    # Given a Pass state followed by a Fail state
    definition = machine(
        First={"Type": "Pass", "Next": "Stop"},
        Stop={"Type": "Fail", "Error": "Settlement.Refused", "Cause": "period open"},
    )

    # When it runs
    # Then it fails with the Fail state's error and cause
    with pytest.raises(StatesError) as failed:
        StateMachine(definition, FakeFunctions()).run({})
    assert (failed.value.error, failed.value.cause) == ("Settlement.Refused", "period open")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"kind": "earn", "points": 10, "vip": False}, "Earn"),
        ({"kind": "earn", "points": 10, "vip": True}, "Vip"),
        ({"kind": "burn", "points": 5}, "SmallBurn"),
        ({"kind": "burn", "points": 50, "note": "x"}, "Noted"),
        ({"kind": "void"}, "Other"),
    ],
)
def test_a_choice_takes_the_first_rule_that_matches(
    document: dict[str, Any], expected: str
) -> None:
    # Given a Choice with And / Or / Not rules over string, number, boolean and presence
    choices = [
        {
            "And": [
                {"Variable": "$.kind", "StringEquals": "earn"},
                {"Variable": "$.vip", "BooleanEquals": True},
            ],
            "Next": "Vip",
        },
        {"Variable": "$.kind", "StringEquals": "earn", "Next": "Earn"},
        {
            "And": [
                {"Variable": "$.points", "IsPresent": True},
                {"Or": [{"Variable": "$.points", "NumericEquals": 5}]},
            ],
            "Next": "SmallBurn",
        },
        {"Not": {"Variable": "$.note", "IsPresent": False}, "Next": "Noted"},
    ]
    ends = {
        name: {"Type": "Pass", "Result": name, "End": True}
        for name in ("Vip", "Earn", "SmallBurn", "Noted", "Other")
    }
    definition = machine(Route={"Type": "Choice", "Choices": choices, "Default": "Other"}, **ends)

    # When it runs on the document
    output = StateMachine(definition, FakeFunctions()).run(document)

    # Then the branch taken is the expected one
    assert output == expected


def test_a_choice_with_no_match_and_no_default_fails() -> None:
    # Given a Choice without a Default
    choices = [{"Variable": "$.kind", "StringEquals": "earn", "Next": "End"}]
    definition = machine(Route={"Type": "Choice", "Choices": choices}, End={"Type": "Succeed"})

    # When no rule matches
    # Then the run fails with States.NoChoiceMatched
    with pytest.raises(StatesError) as failed:
        StateMachine(definition, FakeFunctions()).run({"kind": "burn"})
    assert failed.value.error == "States.NoChoiceMatched"


def test_an_inline_map_with_legacy_iterator_and_parameters_keeps_its_input() -> None:
    # Given an inline Map using the legacy Iterator and Parameters, its result discarded
    definition = machine(
        Each={
            "Type": "Map",
            "ItemsPath": "$.shards",
            "Parameters": {
                "run.$": "$.run",
                "index.$": "$$.Map.Item.Index",
                "shard.$": "$$.Map.Item.Value.id",
            },
            "Iterator": machine(Check=task()),
            "ResultPath": None,
            "End": True,
        }
    )
    functions = FakeFunctions()
    document = {"run": "r9", "shards": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}

    # When it runs
    output = StateMachine(definition, functions).run(document)

    # Then each item was processed once with its selection, and the output is the input
    assert sorted(payload["index"] for _, payload in functions.calls) == [0, 1, 2]
    assert {(payload["run"], payload["shard"]) for _, payload in functions.calls} == {
        ("r9", "a"),
        ("r9", "b"),
        ("r9", "c"),
    }
    assert output == document


def test_a_map_returns_its_results_in_item_order() -> None:
    # Given an inline Map over numbers whose iterations answer at different speeds
    definition = machine(
        Each={
            "Type": "Map",
            "ItemProcessor": machine(Echo=task(OutputPath="$.Payload.echo")),
            "End": True,
        }
    )

    # When it runs
    output = StateMachine(definition, FakeFunctions(pause=0.01)).run([3, 1, 2])

    # Then the results are in the items' order
    assert output == [3, 1, 2]


@pytest.mark.parametrize(("max_concurrency", "pool", "expected"), [(2, 8, 2), (0, 3, 3)])
def test_a_map_runs_no_more_items_at_once_than_its_limit_and_the_pool(
    max_concurrency: int, pool: int, expected: int
) -> None:
    # Given a Map over eight items with a MaxConcurrency (0: unbounded), on a pool of threads
    definition = machine(
        Each={
            "Type": "Map",
            "MaxConcurrency": max_concurrency,
            "ItemProcessor": machine(Slow=task()),
            "End": True,
        }
    )
    functions = FakeFunctions(pause=0.05)

    # When it runs
    StateMachine(definition, functions, max_workers=pool).run(list(range(8)))

    # Then every item ran, never more at once than the smaller limit, and that many did
    assert len(functions.calls) == 8
    assert functions.peak == expected


def test_a_distributed_map_selects_each_item_and_tolerates_no_failure() -> None:
    # Given a distributed Map with an ItemSelector, and a function failing its first call
    definition = machine(
        Each={
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {
                "step": "check",
                "run_id.$": "$.run_id",
                "item.$": "$$.Map.Item.Value",
            },
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                **machine(Check=task(OutputPath="$.Payload")),
            },
            "End": True,
        }
    )
    functions = FakeFunctions()

    # When it runs with every call answering
    output = StateMachine(definition, functions).run(PLAN)

    # Then each item was checked with its selection, the results in order
    assert [payload for _, payload in functions.calls] == [
        {"step": "check", "run_id": "r1", "item": item} for item in PLAN["items"]
    ]
    assert output == [{}, {}]

    # When one item fails
    # Then the map fails, past its tolerated failures (none)
    with pytest.raises(StatesError) as failed:
        StateMachine(definition, FakeFunctions(failures=1)).run(PLAN)
    assert failed.value.error == "States.ExceedToleratedFailureThreshold"


def test_a_parallel_state_runs_each_branch_on_the_same_input() -> None:
    # Given two branches, one a task and one a pass
    definition = machine(
        Both={
            "Type": "Parallel",
            "Branches": [
                machine(Call=task(OutputPath="$.Payload")),
                machine(
                    Name={"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name"}, "End": True}
                ),
            ],
            "End": True,
        }
    )

    # When it runs
    output = StateMachine(definition, FakeFunctions()).run({"step": "settle"}, name="p")

    # Then the output holds each branch's output in order
    assert output == [{"settlement_id": "s"}, {"n": "p"}]


@pytest.mark.parametrize(
    ("state", "feature"),
    [
        (
            {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True},
            "dynamodb",
        ),
        ({"Type": "Task", "Resource": LAMBDA_INVOKE + ".waitForTaskToken", "End": True}, "wait"),
        ({"Type": "Wizard", "End": True}, "Wizard"),
        (
            {
                "Type": "Map",
                "ItemReader": {},
                "ItemProcessor": machine(P={"Type": "Succeed"}),
                "End": True,
            },
            "ItemReader",
        ),
    ],
)
def test_what_the_interpreter_does_not_run_is_refused_by_name(
    state: dict[str, Any], feature: str
) -> None:
    # Given a definition using a state or field the local interpreter does not run
    # When it is read
    # Then UnsupportedFeature names it
    with pytest.raises(UnsupportedFeature, match=feature):
        StateMachine(machine(Only=state), FakeFunctions())


def test_an_intrinsic_function_is_refused_by_name() -> None:
    # Given a Pass state using States.Format
    definition = machine(
        Say={"Type": "Pass", "Parameters": {"text.$": "States.Format('{}', $.a)"}, "End": True}
    )

    # When it runs
    # Then UnsupportedFeature names the intrinsic function
    with pytest.raises(UnsupportedFeature, match=r"States\.Format"):
        StateMachine(definition, FakeFunctions()).run({"a": 1})


# -- the template's state machine ---------------------------------------------------------------


def test_the_reconciliation_state_machine_reads_as_the_template_declares_it() -> None:
    # Given template.yaml
    # When its state machines are read
    specs = state_machines(load_template(), STACK)

    # Then the reconciliation machine has its resolved name, and its tasks name the function
    spec = specs["ReconciliationStateMachine"]
    assert spec.name == "pointsnet-local-reconciliation"
    plan = spec.definition["States"]["Plan"]["Parameters"]["FunctionName"]
    assert "${" not in json.dumps(spec.definition)
    assert spec.functions[plan] == "ReconciliationFunction"


def test_the_reconciliation_state_machine_plans_checks_each_item_once_then_settles() -> None:
    # Given the template's reconciliation state machine and functions answering each step
    spec = state_machines(load_template(), STACK)["ReconciliationStateMachine"]
    functions = FakeFunctions()

    # When it runs for one day
    output = spec.interpreter(functions).run({"period_days": 1}, name="nightly")

    # Then the plan got the run's input, each item was checked once, and settle came last
    payloads = [payload for _, payload in functions.calls]
    assert {function for function, _ in functions.calls} == {"ReconciliationFunction"}
    assert payloads[0] == {"step": "plan", "run": {"period_days": 1}, "execution": "nightly"}
    checks = [payload for payload in payloads if payload["step"] == "check"]
    assert sorted(checks, key=lambda payload: payload["item"]["shard"]) == [
        {"step": "check", "run_id": "r1", "item": item} for item in PLAN["items"]
    ]
    assert payloads[-1] == {"step": "settle", "run_id": "r1"}
    assert len(payloads) == 4
    assert output == {"settlement_id": "s"}


# -- executions on moto -------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Given an empty moto account with fake credentials."""
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def driver(aws: None) -> Iterator[tuple[ExecutionDriver, FakeFunctions, str]]:
    """Given the template's state machines in moto, driven by an ExecutionDriver."""
    template = load_template()
    sfn = boto3.client("stepfunctions")
    arns = provision_state_machines(sfn, template, STACK)
    functions = FakeFunctions()
    running = ExecutionDriver(
        sfn, state_machines(template, STACK), functions, pool_size=4, poll_seconds=0.05
    )
    running.start()
    try:
        yield running, functions, arns["pointsnet-local-reconciliation"]
    finally:
        running.stop()


def test_provisioning_twice_reuses_the_state_machine(aws: None) -> None:
    # Given the template's state machines provisioned once
    sfn = boto3.client("stepfunctions")
    first = provision_state_machines(sfn, load_template(), STACK)

    # When they are provisioned again
    again = provision_state_machines(sfn, load_template(), STACK)

    # Then the same one is reused, with the template's definition
    assert again == first
    assert len(sfn.list_state_machines()["stateMachines"]) == len(first) == 2
    described = sfn.describe_state_machine(stateMachineArn=first["pointsnet-local-reconciliation"])
    assert json.loads(described["definition"])["StartAt"] == "Plan"


def test_an_execution_started_in_moto_runs_to_its_end(
    driver: tuple[ExecutionDriver, FakeFunctions, str],
) -> None:
    # Given the driver watching the reconciliation state machine
    running, functions, machine_arn = driver
    sfn = boto3.client("stepfunctions")

    # When an execution is started in moto
    arn = sfn.start_execution(
        stateMachineArn=machine_arn, name="nightly", input=json.dumps({"period_days": 1})
    )["executionArn"]

    # Then the driver runs it to success and moto no longer has it running
    assert running.wait(arn, timeout=10) == ("SUCCEEDED", {"settlement_id": "s"})
    assert running.result(arn) == ("SUCCEEDED", {"settlement_id": "s"})
    assert sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"
    assert functions.calls[0][1]["execution"] == "nightly"
    assert len(functions.calls) == 4


def test_a_failing_execution_ends_failed_with_its_error(
    driver: tuple[ExecutionDriver, FakeFunctions, str],
) -> None:
    # Given functions whose plan step raises an error the template does not retry
    running, functions, machine_arn = driver
    functions.failures, functions.failure = 1, KeyError("period")
    sfn = boto3.client("stepfunctions")

    # When an execution is started
    arn = sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]

    # Then it ends FAILED with the error's name, and is not running in moto
    status, detail = running.wait(arn, timeout=10)
    assert (status, detail["Error"]) == ("FAILED", "KeyError")
    assert sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"
    assert len(functions.calls) == 1


def test_the_state_machine_schedule_starts_an_execution_the_driver_runs(
    driver: tuple[ExecutionDriver, FakeFunctions, str],
) -> None:
    # Given the template's schedules in moto's Scheduler, the settlement one on the machine
    running, functions, machine_arn = driver
    template = load_template()
    scheduler_client = boto3.client("scheduler")
    machine_arns = running.state_machine_arns()
    # The functions' schedules target ARNs the scheduler is not told of: it leaves them alone.
    function_arns = {
        spec.function: f"arn:aws:lambda:us-east-1:123456789012:function:{spec.function}"
        for spec in template_schedules(template)
        if not spec.state_machine
    }
    provision_schedules(template, STACK, scheduler_client, function_arns, machine_arns)
    scheduler = LocalScheduler(
        scheduler_client,
        functions,
        {},
        clock=lambda: datetime(2026, 12, 2, 0, 15, tzinfo=UTC),
        sfn=boto3.client("stepfunctions"),
        state_machine_for_arn={arn: logical_id for logical_id, arn in machine_arns.items()},
    )
    scheduler.reload()

    # When the settlement schedule fires
    outcome = scheduler.run_now("ReconciliationStateMachineScheduled")

    # Then it started an execution with its Input, which the driver ran to the settlement
    assert outcome["status"] == "succeeded"
    arn = outcome["result"]["executionArn"]
    assert arn.startswith(machine_arn.replace(":stateMachine:", ":execution:"))
    assert running.wait(arn, timeout=10) == ("SUCCEEDED", {"settlement_id": "s"})
    assert functions.calls[0][1]["run"] == {"period_days": 1}
