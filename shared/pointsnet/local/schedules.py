"""EventBridge Scheduler, run locally: the template's ScheduleV2 events fire at their times.

`provision_schedules` creates each `Type: ScheduleV2` event of template.yaml (of a function or a
state machine) in the emulator's Scheduler, named as SAM names it (`<Function><Event>`);
`LocalScheduler` reads them back from there and invokes each one's function with its `Input`
(or starts an execution of its state machine with it) when its rate or cron expression comes
due, retrying per its `RetryPolicy`. As in Scheduler, a slot missed while nothing ran is not
made up: after a gap, a schedule fires once, for its latest slot.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pointsnet.local.background import Background
from pointsnet.local.schedule_expressions import Expression
from pointsnet.local.template import LocalStack, resources_of_type

logger = logging.getLogger("pointsnet.local.schedules")

TICK_SECONDS = 0.5
# How long stopping waits for a run under way (a sweep, a settlement) to finish.
STOP_GRACE_SECONDS = 10.0
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/pointsnet-local-scheduler"
Clock = Callable[[], datetime]
Invoke = Callable[[str, dict[str, Any]], Any]


class ScheduleNotFound(LookupError):
    """No schedule of that name."""


# -- what the template declares -----------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSpec:
    """One ScheduleV2 event of a function (or state machine) in template.yaml, resolved."""

    name: str
    function: str  # the target's logical id: a function, or a state machine if `state_machine`
    expression: str
    timezone: str = "UTC"
    input: str | None = None
    description: str = ""
    max_retries: int = 185
    max_event_age_seconds: int = 86400
    dead_letter_arn: str | None = None
    state: str = "ENABLED"
    state_machine: bool = False


def template_schedules(
    template: Mapping[str, Any], stack: LocalStack | None = None
) -> list[ScheduleSpec]:
    stack = stack or LocalStack()
    specs = []
    targets = resources_of_type(
        template, "AWS::Serverless::Function", "AWS::Serverless::StateMachine"
    )
    for logical_id, resource in targets.items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "ScheduleV2":
                continue
            props = stack.resolve(event.get("Properties", {}), template)
            retry = props.get("RetryPolicy", {})
            dead_letter = props.get("DeadLetterConfig", {})
            specs.append(
                ScheduleSpec(
                    name=props.get("Name") or f"{logical_id}{event_name}",
                    function=logical_id,
                    expression=str(props["ScheduleExpression"]),
                    timezone=str(props.get("ScheduleExpressionTimezone", "UTC")),
                    input=props.get("Input"),
                    description=str(props.get("Description", "")),
                    max_retries=int(retry.get("MaximumRetryAttempts", 185)),
                    max_event_age_seconds=int(retry.get("MaximumEventAgeInSeconds", 86400)),
                    dead_letter_arn=dead_letter.get("Arn")
                    if isinstance(dead_letter, dict)
                    else None,
                    state=str(props.get("State", "ENABLED")),
                    state_machine=resource["Type"] == "AWS::Serverless::StateMachine",
                )
            )
    return specs


def provision_schedules(
    template: Mapping[str, Any],
    stack: LocalStack,
    scheduler: Any,
    function_arns: Mapping[str, str],
    state_machine_arns: Mapping[str, str] | None = None,
) -> None:
    """Create the template's schedules in the emulator (those that exist are kept)."""
    from botocore.exceptions import ClientError

    for spec in template_schedules(template, stack):
        target_arns = (state_machine_arns or {}) if spec.state_machine else function_arns
        target: dict[str, Any] = {
            "Arn": target_arns[spec.function],
            "RoleArn": SCHEDULER_ROLE,
            "RetryPolicy": {
                "MaximumRetryAttempts": spec.max_retries,
                "MaximumEventAgeInSeconds": spec.max_event_age_seconds,
            },
        }
        if spec.input is not None:
            target["Input"] = spec.input
        if spec.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": spec.dead_letter_arn}
        try:
            scheduler.create_schedule(
                Name=spec.name,
                Description=spec.description,
                ScheduleExpression=spec.expression,
                ScheduleExpressionTimezone=spec.timezone,
                FlexibleTimeWindow={"Mode": "OFF"},
                State=spec.state,
                Target=target,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConflictException":
                raise


# -- running them -------------------------------------------------------------------------------


@dataclass
class LocalSchedule:
    """A schedule as read back from the emulator, with what the local scheduler did with it."""

    name: str
    arn: str
    function: str
    expression: Expression
    zone: ZoneInfo
    input: str | None
    state: str
    created: datetime
    max_retries: int
    dead_letter_arn: str | None
    last_slot: datetime
    last_run: dict[str, Any] | None = None
    running: threading.Lock = field(default_factory=threading.Lock)
    # The ARN of the state machine the schedule starts; None when it invokes a function.
    state_machine_arn: str | None = None

    def next_run(self) -> datetime | None:
        if self.state != "ENABLED":
            return None
        return self.expression.slots_after(self.created, self.last_slot, self.zone)

    def describe(self) -> dict[str, Any]:
        following = self.next_run()
        return {
            "name": self.name,
            "function": self.function,
            "expression": self.expression.text,
            "timezone": str(self.zone),
            "state": self.state,
            "input": self.input,
            "next_run": _rfc3339(following) if following else None,
            "last_run": self.last_run,
        }


class LocalScheduler:
    """Fires the emulator's schedules on time, each run in a thread of its own.

    A schedule whose target is in `state_machine_for_arn` starts an execution through `sfn`.
    """

    def __init__(
        self,
        scheduler: Any,
        invoke: Invoke,
        function_for_arn: Mapping[str, str],
        *,
        sqs: Any = None,
        clock: Clock | None = None,
        retry_delay: Callable[[int], float] = lambda attempt: min(60.0, 2.0**attempt),
        sfn: Any = None,
        state_machine_for_arn: Mapping[str, str] | None = None,
    ) -> None:
        self._scheduler = scheduler
        self._invoke = invoke
        self._function_for_arn = dict(function_for_arn)
        self._sfn = sfn
        self._state_machine_for_arn = dict(state_machine_for_arn or {})
        self._sqs = sqs
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        # Seconds to wait before retry `attempt + 1` of a failed run (tests pass no wait).
        self._retry_delay = retry_delay
        self._schedules: dict[str, LocalSchedule] = {}
        self._background = Background("local-scheduler", self._run)
        self._stopping = self._background.stopping

    def start(self) -> None:
        self.reload()
        self._background.start()

    def stop(self) -> None:
        """Stop firing, and give runs under way a moment to end before the functions go."""
        self._background.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for schedule in self._schedules.values():
            if schedule.running.acquire(timeout=max(0.0, deadline - time.monotonic())):
                schedule.running.release()

    def reload(self) -> None:
        """Read the schedules from the emulator's Scheduler."""
        now = self.clock()
        found: dict[str, LocalSchedule] = {}
        for summary in self._scheduler.list_schedules()["Schedules"]:
            detail = self._scheduler.get_schedule(
                Name=summary["Name"], GroupName=summary.get("GroupName", "default")
            )
            target = detail["Target"]
            state_machine = self._state_machine_for_arn.get(target["Arn"])
            function = self._function_for_arn.get(target["Arn"], state_machine)
            if function is None:
                continue  # not a function (or state machine) of this template
            known = self._schedules.get(detail["Name"])
            found[detail["Name"]] = LocalSchedule(
                name=detail["Name"],
                arn=detail["Arn"],
                function=function,
                expression=Expression.parse(detail["ScheduleExpression"]),
                zone=ZoneInfo(detail.get("ScheduleExpressionTimezone") or "UTC"),
                input=target.get("Input"),
                state=detail.get("State", "ENABLED"),
                # Rates count from when the schedule started running here.
                created=known.created if known else now,
                max_retries=int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)),
                dead_letter_arn=target.get("DeadLetterConfig", {}).get("Arn"),
                last_slot=known.last_slot if known else now,
                last_run=known.last_run if known else None,
                state_machine_arn=target["Arn"] if state_machine else None,
            )
        self._schedules = found

    def schedules(self) -> list[LocalSchedule]:
        return sorted(self._schedules.values(), key=lambda schedule: schedule.name)

    def find(self, name: str) -> LocalSchedule:
        """A schedule by its name, or by its event's name alone when that is unambiguous."""
        if name in self._schedules:
            return self._schedules[name]
        matches = [
            schedule for schedule in self._schedules.values() if schedule.name.endswith(name)
        ]
        if len(matches) == 1:
            return matches[0]
        raise ScheduleNotFound(
            f"no schedule {name!r}; there are {', '.join(sorted(self._schedules))}"
        )

    def run_now(self, name: str) -> dict[str, Any]:
        """Fire a schedule now, whatever its expression says, and return what its run did."""
        schedule = self.find(name)
        return self._fire(schedule, self.clock())

    def _run(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            self.tick()

    def tick(self) -> list[threading.Thread]:
        """Start a run of each schedule due by the clock's now; the threads of those runs."""
        now = self.clock()
        started = []
        for schedule in list(self._schedules.values()):
            if schedule.state != "ENABLED":
                continue
            slot = schedule.expression.latest_slot(
                schedule.created, now, schedule.zone, schedule.last_slot
            )
            if slot is None:
                continue
            schedule.last_slot = slot
            if schedule.running.locked():
                logger.warning("%s is still running; its %s run is skipped", schedule.name, slot)
                continue
            thread = threading.Thread(
                target=self._fire,
                args=(schedule, slot),
                name=f"schedule-{schedule.name}",
                daemon=True,
            )
            thread.start()
            started.append(thread)
        return started

    def _fire(self, schedule: LocalSchedule, slot: datetime) -> dict[str, Any]:
        with schedule.running:
            execution = str(uuid.uuid4())
            outcome: dict[str, Any] = {
                "name": schedule.name,
                "function": schedule.function,
                "scheduled_time": _rfc3339(slot),
            }
            for attempt in range(schedule.max_retries + 1):
                event = _payload(schedule, slot, execution, attempt + 1)
                started = time.monotonic()
                try:
                    result = self._run_target(schedule, event)
                except Exception as exc:
                    outcome |= {"status": "failed", "error": str(exc), "attempts": attempt + 1}
                    logger.warning("%s attempt %d failed: %s", schedule.name, attempt + 1, exc)
                    if self._stopping.is_set():
                        break  # the network is stopping: the run ends with it, as a failure
                    if attempt < schedule.max_retries and not self._stopping.wait(
                        self._retry_delay(attempt)
                    ):
                        continue
                    if not self._stopping.is_set():
                        self._dead_letter(schedule, event, str(exc))
                    break
                outcome |= {
                    "status": "succeeded",
                    "attempts": attempt + 1,
                    "duration_ms": round((time.monotonic() - started) * 1000),
                    "result": result,
                }
                outcome.pop("error", None)
                break
            schedule.last_run = {key: value for key, value in outcome.items() if key != "result"}
            logger.info(
                "%s ran for %s: %s", schedule.name, outcome["scheduled_time"], outcome["status"]
            )
            return outcome

    def _run_target(self, schedule: LocalSchedule, event: dict[str, Any]) -> Any:
        if schedule.state_machine_arn is None:
            return self._invoke(schedule.function, event)
        # As Scheduler does: the run is done once the execution has started.
        started = self._sfn.start_execution(
            stateMachineArn=schedule.state_machine_arn, input=json.dumps(event)
        )
        return {"executionArn": started["executionArn"]}

    def _dead_letter(self, schedule: LocalSchedule, event: dict[str, Any], error: str) -> None:
        if not schedule.dead_letter_arn or self._sqs is None:
            return
        queue_name = schedule.dead_letter_arn.rsplit(":", 1)[-1]
        queue_url = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self._sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:256]},
                "SCHEDULE_ARN": {"DataType": "String", "StringValue": schedule.arn},
            },
        )


def _payload(
    schedule: LocalSchedule, slot: datetime, execution: str, attempt: int
) -> dict[str, Any]:
    """The schedule's Input with Scheduler's context attributes filled in."""
    text = schedule.input or "{}"
    for name, value in (
        ("scheduled-time", _rfc3339(slot)),
        ("execution-id", execution),
        ("attempt-number", str(attempt)),
        ("schedule-arn", schedule.arn),
    ):
        text = text.replace(f"<aws.scheduler.{name}>", value)
    payload: Any = json.loads(text)
    return payload if isinstance(payload, dict) else {"input": payload}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
