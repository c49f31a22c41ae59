"""pointsnet.local.schedules: Scheduler expressions, the template's ScheduleV2 events, and the
local scheduler firing them from moto's Scheduler by a clock the tests move on."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from pointsnet.local.schedules import (
    Expression,
    LocalScheduler,
    ScheduleNotFound,
    provision_schedules,
    template_schedules,
)
from pointsnet.local.state_machines import provision_state_machines, state_machines
from pointsnet.local.template import LocalStack, load_template, resources_of_type
from tests.conftest import FAKE_AWS

STACK = LocalStack()
START = datetime(2026, 12, 1, 0, 20, tzinfo=UTC)
KNOWN_SCHEDULES = (
    "LifecycleFunctionVoidTimedOutHolds",
    "LifecycleFunctionSweepPoints",
    "ReconciliationStateMachineScheduled",
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def next_slot(expression: str, after: str, zone: str = "UTC") -> datetime | None:
    moment = utc(after)
    return Expression.parse(expression).slots_after(moment, moment, ZoneInfo(zone))


# -- expressions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # the settlement default: daily at 00:15 UTC
        ("cron(15 0 * * ? *)", "2026-12-01T00:20:00Z", "2026-12-02T00:15:00Z"),
        ("cron(15 0 * * ? *)", "2026-12-01T00:14:59Z", "2026-12-01T00:15:00Z"),
        ("cron(15 0 * * ? *)", "2026-12-01T00:15:00Z", "2026-12-02T00:15:00Z"),
        # weekdays: Friday 4 December's run is followed by Monday's
        ("cron(0 9 ? * MON-FRI *)", "2026-12-04T09:00:00Z", "2026-12-07T09:00:00Z"),
        ("cron(0 9 ? * MON-FRI *)", "2026-12-05T08:00:00Z", "2026-12-07T09:00:00Z"),
        ("cron(0 9 ? * MON-FRI *)", "2026-12-07T08:59:00Z", "2026-12-07T09:00:00Z"),
        # day-of-week numbers count from Sunday = 1
        ("cron(0 0 ? * 1 *)", "2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z"),
        ("cron(30 12 ? * WED *)", "2026-12-01T00:00:00Z", "2026-12-02T12:30:00Z"),
        # steps, ranges with steps, lists
        ("cron(*/20 * * * ? *)", "2026-12-01T10:41:00Z", "2026-12-01T11:00:00Z"),
        ("cron(5/20 * * * ? *)", "2026-12-01T10:26:00Z", "2026-12-01T10:45:00Z"),
        ("cron(0 8-18/5 * * ? *)", "2026-12-01T13:30:00Z", "2026-12-01T18:00:00Z"),
        ("cron(0 6,18 * * ? *)", "2026-12-01T07:00:00Z", "2026-12-01T18:00:00Z"),
        # month names, including JUL (which holds an L) and lower case
        ("cron(0 0 1 JAN,JUL ? *)", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("cron(0 0 1 jul ? *)", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"),
        ("cron(0 0 1 JUN-AUG ? *)", "2027-06-01T00:00:00Z", "2027-07-01T00:00:00Z"),
        # a day that short months lack, and a year
        ("cron(0 0 31 * ? *)", "2027-01-31T00:00:00Z", "2027-03-31T00:00:00Z"),
        ("cron(0 0 1 1 ? 2028)", "2026-12-01T00:00:00Z", "2028-01-01T00:00:00Z"),
        # one-time schedules
        ("at(2027-01-01T00:00:00)", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("at(2027-01-01T00:00:00)", "2027-01-01T00:00:00Z", None),
        # never: 30 February
        ("cron(0 0 30 FEB ? *)", "2026-12-01T00:00:00Z", None),
    ],
)
def test_the_next_slot_is_the_first_matching_minute_strictly_after(
    expression: str, after: str, expected: str | None
) -> None:
    # Given an expression and a moment
    # When the next slot is asked for
    slot = next_slot(expression, after)

    # Then it is the first one the expression allows after that moment
    assert slot == (utc(expected) if expected else None)


def test_a_cron_in_paris_keeps_its_local_time_across_both_dst_changes() -> None:
    # Given a daily 09:00 schedule in Europe/Paris
    daily = "cron(0 9 * * ? *)"

    # When the clocks go forward (29 March 2026) and back (25 October 2026)
    # Then 09:00 is 08:00 UTC in winter and 07:00 UTC in summer
    assert next_slot(daily, "2026-03-27T12:00:00Z", "Europe/Paris") == utc("2026-03-28T08:00:00Z")
    assert next_slot(daily, "2026-03-28T08:00:00Z", "Europe/Paris") == utc("2026-03-29T07:00:00Z")
    assert next_slot(daily, "2026-10-24T07:00:00Z", "Europe/Paris") == utc("2026-10-25T08:00:00Z")


def test_a_cron_day_is_the_day_in_its_timezone() -> None:
    # Given a weekday schedule at 00:30 in Paris, and Saturday 23:45 UTC (Sunday 00:45 in Paris)
    # When the next slot is asked for
    slot = next_slot("cron(30 0 ? * MON-FRI *)", "2026-12-05T23:45:00Z", "Europe/Paris")

    # Then it is Monday 00:30 in Paris, Sunday 23:30 UTC
    assert slot == utc("2026-12-06T23:30:00Z")


def test_an_at_expression_is_read_in_its_timezone() -> None:
    # Given a one-time schedule at midnight, new year, in Paris
    # When its slot is asked for
    slot = next_slot("at(2027-01-01T00:00:00)", "2026-12-01T00:00:00Z", "Europe/Paris")

    # Then it is 23:00 UTC the day before
    assert slot == utc("2026-12-31T23:00:00Z")


def test_a_rate_counts_its_slots_from_its_start() -> None:
    # Given a 15-minute rate that started at 00:07:13
    rate = Expression.parse("rate(15 minutes)")
    start = utc("2026-12-01T00:07:13Z")

    # When slots are asked for after various moments
    # Then they are whole periods after the start, not on the quarter hour
    assert rate.slots_after(start, start, ZoneInfo("UTC")) == utc("2026-12-01T00:22:13Z")
    assert rate.slots_after(start, utc("2026-12-01T00:20:00Z"), ZoneInfo("UTC")) == utc(
        "2026-12-01T00:22:13Z"
    )
    assert rate.slots_after(start, utc("2026-12-01T00:22:13Z"), ZoneInfo("UTC")) == utc(
        "2026-12-01T00:37:13Z"
    )
    assert Expression.parse("rate(1 hour)").period == timedelta(hours=1)
    assert Expression.parse("rate(2 days)").period == timedelta(days=2)


def test_after_a_long_gap_only_the_latest_slot_is_due() -> None:
    # Given schedules last run at 00:00 and 00:20, and the clock three hours and four days on
    rate = Expression.parse("rate(15 minutes)")
    daily = Expression.parse("cron(15 0 * * ? *)")
    start = utc("2026-12-01T00:00:00Z")
    zone = ZoneInfo("UTC")

    # When the latest due slot is asked for
    # Then it is the most recent one, and none when no slot came due
    assert rate.latest_slot(start, utc("2026-12-01T03:07:00Z"), zone, start) == utc(
        "2026-12-01T03:00:00Z"
    )
    assert rate.latest_slot(start, utc("2026-12-01T00:14:59Z"), zone, start) is None
    last = utc("2026-12-01T00:20:00Z")
    assert daily.latest_slot(start, utc("2026-12-05T10:00:00Z"), zone, last) == utc(
        "2026-12-05T00:15:00Z"
    )
    assert daily.latest_slot(start, utc("2026-12-02T00:14:00Z"), zone, last) is None


def test_a_one_time_schedule_is_due_once() -> None:
    # Given an at() schedule
    once = Expression.parse("at(2027-01-01T00:00:00)")
    zone = ZoneInfo("UTC")
    before, moment, after = (
        utc("2026-12-01T00:00:00Z"),
        utc("2027-01-01T00:00:00Z"),
        utc("2027-02-01T00:00:00Z"),
    )

    # When it is asked for, before and after it ran
    # Then it is due once
    assert once.latest_slot(before, after, zone, before) == moment
    assert once.latest_slot(before, after, zone, moment) is None


@pytest.mark.parametrize(
    "text",
    [
        "every day",
        "rate(0 minutes)",
        "rate(5 weeks)",
        "rate(minutes)",
        "cron(0 9 * *)",
        "cron(0 9 * * ? * *)",
        "cron(61 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 9 32 * ? *)",
        "cron(0 9 1 13 ? *)",
        "cron(0 9 1 FOO ? *)",
        "cron(x 9 * * ? *)",
        "cron(0 9 ? * 0 *)",
        "cron(0 9 L * ? *)",
        "cron(0 9 15W * ? *)",
        "cron(0 9 LW * ? *)",
        "cron(0 9 ? * 6L *)",
        "cron(0 9 ? * 6#3 *)",
        "cron(0 9 ? * FRI#2 *)",
        "at(tomorrow)",
    ],
)
def test_a_malformed_or_unsupported_expression_is_refused(text: str) -> None:
    # Given an expression Scheduler would refuse, or one using L, W or #
    # When it is parsed
    # Then it raises ValueError
    with pytest.raises(ValueError):
        Expression.parse(text)


# -- what the template declares -----------------------------------------------------------------


def declared_schedule_events(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ScheduleV2 event of template.yaml, by the name SAM gives its schedule."""
    targets = resources_of_type(
        template, "AWS::Serverless::Function", "AWS::Serverless::StateMachine"
    )
    return {
        f"{function}{name}": event["Properties"]
        for function, resource in targets.items()
        for name, event in resource["Properties"].get("Events", {}).items()
        if event.get("Type") == "ScheduleV2"
    }


def test_the_template_schedules_are_exactly_its_schedule_v2_events() -> None:
    # Given template.yaml
    template = load_template()
    declared = declared_schedule_events(template)

    # When its schedules are read
    specs = {spec.name: spec for spec in template_schedules(template)}

    # Then there is one per ScheduleV2 event, with its expression, Input and retry policy
    assert set(specs) == set(declared)
    assert set(KNOWN_SCHEDULES) <= set(specs)
    for name, properties in declared.items():
        spec = specs[name]
        assert spec.expression == STACK.resolve(properties["ScheduleExpression"], template)
        assert spec.input == STACK.resolve(properties.get("Input"), template)
        assert spec.max_retries == properties["RetryPolicy"]["MaximumRetryAttempts"]
        assert name.startswith(spec.function)


def test_the_known_schedules_read_as_the_template_declares_them() -> None:
    # Given template.yaml's schedules
    # When they are read as local schedules
    specs = {spec.name: spec for spec in template_schedules(load_template())}

    # Then each has its function, expression and Input, parameters resolved
    holds = specs["LifecycleFunctionVoidTimedOutHolds"]
    assert (holds.function, holds.expression, holds.max_retries) == (
        "LifecycleFunction",
        "rate(15 minutes)",
        2,
    )
    assert json.loads(holds.input or "") == {
        "job": "holds",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    assert json.loads(specs["LifecycleFunctionSweepPoints"].input or "")["job"] == "points"
    settlement = specs["ReconciliationStateMachineScheduled"]
    assert (settlement.function, settlement.expression, settlement.timezone) == (
        "ReconciliationStateMachine",
        "cron(15 0 * * ? *)",
        "UTC",
    )
    assert settlement.state_machine and not holds.state_machine
    assert json.loads(settlement.input or "") == {"period_days": 1}


# -- the local scheduler on moto ----------------------------------------------------------------


@dataclass
class MovableClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def move_to(self, moment: datetime) -> None:
        self.now = moment


@dataclass
class RecordingFunctions:
    """An `invoke` that records each call; the first `failures` calls raise."""

    failures: int = 0
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        with self._lock:
            self.calls.append((function, event))
            if len(self.calls) <= self.failures:
                raise RuntimeError(f"boom {len(self.calls)}")
        return {"handled": event}

    def jobs(self) -> list[tuple[str, Any, Any]]:
        return [
            (function, event.get("job"), event.get("scheduled_time"))
            for function, event in self.calls
        ]


def function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:{STACK.physical_name(logical_id)}"


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


def local_scheduler(
    template: dict[str, Any], clock: MovableClock, functions: RecordingFunctions
) -> LocalScheduler:
    """The template's schedules created in moto's Scheduler, read back by a LocalScheduler;
    those of state machines start executions in moto's Step Functions."""
    client = boto3.client("scheduler")
    specs = template_schedules(template)
    arns = {spec.function: function_arn(spec.function) for spec in specs if not spec.state_machine}
    by_name = provision_state_machines(boto3.client("stepfunctions"), template, STACK)
    machine_arns = {
        logical_id: by_name[spec.name] for logical_id, spec in state_machines(template).items()
    }
    provision_schedules(template, STACK, client, arns, machine_arns)
    scheduler = LocalScheduler(
        client,
        functions,
        {arn: logical_id for logical_id, arn in arns.items()},
        sqs=boto3.client("sqs"),
        clock=clock,
        retry_delay=lambda attempt: 0.0,
        sfn=boto3.client("stepfunctions"),
        state_machine_for_arn={arn: logical_id for logical_id, arn in machine_arns.items()},
    )
    scheduler.reload()
    return scheduler


def tick(scheduler: LocalScheduler) -> int:
    """One tick of the scheduler, waiting for the runs it started; how many it started."""
    runs = scheduler.tick()
    for run in runs:
        run.join(timeout=5)
        assert not run.is_alive()
    return len(runs)


def nightly_template(**properties: Any) -> dict[str, Any]:
    """A function with one schedule at 02:00 in Paris, and a queue for its dead letters."""
    return {
        "Resources": {
            "NightlyFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {
                        "Nightly": {
                            "Type": "ScheduleV2",
                            "Properties": {
                                "ScheduleExpression": "cron(0 2 * * ? *)",
                                "ScheduleExpressionTimezone": "Europe/Paris",
                                "Input": json.dumps(
                                    {
                                        "scheduled_time": "<aws.scheduler.scheduled-time>",
                                        "attempt": "<aws.scheduler.attempt-number>",
                                    }
                                ),
                                **properties,
                            },
                        }
                    }
                },
            },
            "NightlyDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }


def test_a_schedule_fires_once_when_the_clock_passes_its_slot(aws: None) -> None:
    # Given the template's schedules, read at 00:20
    clock = MovableClock(START)
    functions = RecordingFunctions()
    scheduler = local_scheduler(load_template(), clock, functions)
    assert {schedule.name for schedule in scheduler.schedules()} >= set(KNOWN_SCHEDULES)
    holds = scheduler.find("LifecycleFunctionVoidTimedOutHolds")
    assert holds.describe()["next_run"] == "2026-12-01T00:35:00Z"

    # When the clock reaches one second before the holds sweep's first slot
    clock.move_to(START + timedelta(minutes=14, seconds=59))
    # Then nothing fires
    assert tick(scheduler) == 0
    assert functions.calls == []

    # When it passes that slot
    clock.move_to(START + timedelta(minutes=15, seconds=30))
    # Then the sweep fires once, its Input carrying the slot as its scheduled time
    assert tick(scheduler) == 1
    assert functions.calls == [
        ("LifecycleFunction", {"job": "holds", "scheduled_time": "2026-12-01T00:35:00Z"})
    ]
    assert holds.last_run is not None
    assert holds.last_run["status"] == "succeeded"
    assert holds.describe()["next_run"] == "2026-12-01T00:50:00Z"

    # And ticking again at the same moment fires nothing more
    assert tick(scheduler) == 0
    assert len(functions.calls) == 1


def test_a_schedule_three_slots_late_fires_once_for_its_latest_slot(aws: None) -> None:
    # Given the template's schedules, read at 00:20
    clock = MovableClock(START)
    functions = RecordingFunctions()
    scheduler = local_scheduler(load_template(), clock, functions)

    # When the clock jumps past three of the holds sweep's slots (00:35, 00:50, 01:05)
    clock.move_to(utc("2026-12-01T01:06:00Z"))
    tick(scheduler)

    # Then it fires once, for 01:05, and the hourly sweep (due 01:20) not yet; the daily
    # metrics (01:00) fire once too
    assert sorted(functions.jobs(), key=str) == [
        ("LifecycleFunction", "holds", "2026-12-01T01:05:00Z"),
        ("MetricsFunction", None, "2026-12-01T01:00:00Z"),
    ]

    # When the clock jumps to the next day's settlement time
    functions.calls.clear()
    clock.move_to(utc("2026-12-02T00:15:00Z"))
    tick(scheduler)

    # Then each schedule fires once, for its own latest slot
    assert sorted(functions.jobs(), key=str) == sorted(
        [
            ("LifecycleFunction", "holds", "2026-12-02T00:05:00Z"),
            ("LifecycleFunction", "points", "2026-12-01T23:20:00Z"),
        ],
        key=str,
    )
    # And the settlement's state machine got one execution, of the schedule's Input
    sfn = boto3.client("stepfunctions")
    machine = scheduler.find("ReconciliationStateMachineScheduled").state_machine_arn
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 1
    started = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(started["input"]) == {"period_days": 1}


def test_a_failing_run_is_retried_then_dead_lettered(aws: None) -> None:
    # Given a nightly schedule retried twice, with a dead-letter queue, and a function that fails
    template = nightly_template(
        RetryPolicy={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600},
        DeadLetterConfig={"Arn": {"Fn::GetAtt": ["NightlyDeadLetterQueue", "Arn"]}},
    )
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=STACK.physical_name("NightlyDeadLetterQueue"))[
        "QueueUrl"
    ]
    clock = MovableClock(START)
    functions = RecordingFunctions(failures=10)
    scheduler = local_scheduler(template, clock, functions)

    # When its slot (02:00 in Paris, 01:00 UTC) passes
    clock.move_to(utc("2026-12-01T01:00:30Z"))
    tick(scheduler)

    # Then the function was called three times for the same slot, counting its attempts
    assert [event for _, event in functions.calls] == [
        {"scheduled_time": "2026-12-01T01:00:00Z", "attempt": str(attempt)} for attempt in (1, 2, 3)
    ]
    # And the last attempt's event is on the dead-letter queue with the error
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"]) == functions.calls[-1][1]
    assert messages[0]["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"] == "boom 3"
    run = scheduler.find("NightlyFunctionNightly").last_run
    assert run is not None
    assert (run["status"], run["attempts"], run["error"]) == ("failed", 3, "boom 3")


def test_a_run_that_succeeds_on_a_retry_sends_no_dead_letter(aws: None) -> None:
    # Given a nightly schedule with a dead-letter queue, and a function that fails once
    template = nightly_template(
        RetryPolicy={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600},
        DeadLetterConfig={"Arn": {"Fn::GetAtt": ["NightlyDeadLetterQueue", "Arn"]}},
    )
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=STACK.physical_name("NightlyDeadLetterQueue"))[
        "QueueUrl"
    ]
    clock = MovableClock(START)
    functions = RecordingFunctions(failures=1)
    scheduler = local_scheduler(template, clock, functions)

    # When it is run now
    outcome = scheduler.run_now("Nightly")

    # Then the second attempt succeeded and nothing was dead-lettered
    assert (outcome["status"], outcome["attempts"]) == ("succeeded", 2)
    assert "error" not in outcome
    assert sqs.receive_message(QueueUrl=queue_url).get("Messages", []) == []


def test_a_schedule_without_retries_tries_once(aws: None) -> None:
    # Given a schedule with no retries and no dead-letter queue, and a function that fails
    clock = MovableClock(START)
    functions = RecordingFunctions(failures=10)
    scheduler = local_scheduler(
        nightly_template(RetryPolicy={"MaximumRetryAttempts": 0}), clock, functions
    )

    # When it is run now
    outcome = scheduler.run_now("NightlyFunctionNightly")

    # Then it was tried once and failed
    assert (outcome["status"], outcome["attempts"]) == ("failed", 1)
    assert len(functions.calls) == 1


def test_run_now_fires_a_schedule_by_its_full_or_short_name(aws: None) -> None:
    # Given the template's schedules
    clock = MovableClock(utc("2026-12-01T10:11:12Z"))
    functions = RecordingFunctions()
    scheduler = local_scheduler(load_template(), clock, functions)

    # When the holds sweep is run by its full name, and the points sweep by its event's name
    holds = scheduler.run_now("LifecycleFunctionVoidTimedOutHolds")
    points = scheduler.run_now("SweepPoints")

    # Then each ran now, whatever its expression says, and returned what the function did
    assert (holds["name"], holds["function"], holds["status"]) == (
        "LifecycleFunctionVoidTimedOutHolds",
        "LifecycleFunction",
        "succeeded",
    )
    assert holds["scheduled_time"] == "2026-12-01T10:11:12Z"
    assert holds["result"] == {
        "handled": {"job": "holds", "scheduled_time": "2026-12-01T10:11:12Z"}
    }
    assert points["name"] == "LifecycleFunctionSweepPoints"
    assert functions.jobs() == [
        ("LifecycleFunction", "holds", "2026-12-01T10:11:12Z"),
        ("LifecycleFunction", "points", "2026-12-01T10:11:12Z"),
    ]


def test_an_unknown_or_ambiguous_name_is_not_found(aws: None) -> None:
    # Given two functions that each have a schedule named Nightly
    template = nightly_template()
    template["Resources"]["ReportsFunction"] = template["Resources"]["NightlyFunction"]
    scheduler = local_scheduler(template, MovableClock(START), RecordingFunctions())

    # When schedules are looked up by name
    # Then a full name finds one, and an unknown or ambiguous one raises ScheduleNotFound
    assert scheduler.find("ReportsFunctionNightly").function == "ReportsFunction"
    with pytest.raises(ScheduleNotFound):
        scheduler.run_now("NoSuchSchedule")
    with pytest.raises(ScheduleNotFound):
        scheduler.find("Nightly")


def test_a_disabled_schedule_never_fires(aws: None) -> None:
    # Given a disabled schedule
    clock = MovableClock(START)
    functions = RecordingFunctions()
    scheduler = local_scheduler(nightly_template(State="DISABLED"), clock, functions)

    # When the clock passes many of its slots
    clock.move_to(START + timedelta(days=3))

    # Then it does not fire and has no next run
    assert tick(scheduler) == 0
    assert functions.calls == []
    assert scheduler.find("Nightly").next_run() is None


def test_a_schedule_for_another_target_is_left_alone(aws: None) -> None:
    # Given moto's Scheduler holding a schedule whose target is no function of the template
    client = boto3.client("scheduler")
    client.create_schedule(
        Name="SomeoneElses",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:123456789012:function:elsewhere",
            "RoleArn": "arn:aws:iam::123456789012:role/elsewhere",
        },
    )

    # When the local scheduler reads the template's schedules
    scheduler = local_scheduler(nightly_template(), MovableClock(START), RecordingFunctions())

    # Then it has only the template's
    assert [schedule.name for schedule in scheduler.schedules()] == ["NightlyFunctionNightly"]


def test_the_running_scheduler_fires_on_its_own_ticks(aws: None) -> None:
    # Given the template's schedules, running in the scheduler's thread
    clock = MovableClock(START)
    functions = RecordingFunctions()
    scheduler = local_scheduler(load_template(), clock, functions)
    scheduler.start()
    try:
        # When the clock passes the holds sweep's slot
        clock.move_to(START + timedelta(minutes=16))

        # Then the thread fires it within a few ticks
        deadline = time.monotonic() + 5
        while not functions.calls and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert functions.jobs() == [("LifecycleFunction", "holds", "2026-12-01T00:35:00Z")]
