"""The whole local network in-process: the API on loopback, on an embedded AWS emulator.

`make run` serves it from a terminal (`terminal.py`); tests and benchmarks run it with
`local_network()`, e.g.
`with local_network() as network: network.client("starlodge").earn("m-1", 100, "order-1")`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pointsnet.local.background import Background
from pointsnet.local.control import LocalControl
from pointsnet.local.emulator import (
    DYNAMODB_ENDPOINT_VARIABLE,
    Emulator,
    aws_client,
    aws_environment,
    provision,
)
from pointsnet.local.event_log import EventLog
from pointsnet.local.local_api import LocalApi
from pointsnet.local.queues import QueuePoller, queue_subscriptions
from pointsnet.local.schedules import Clock, LocalScheduler, provision_schedules
from pointsnet.local.seed import seed_demo_network, write_credentials
from pointsnet.local.state_machines import (
    ExecutionDriver,
    provision_state_machines,
    s3_reader,
    state_machines,
    worker_invoke,
)
from pointsnet.local.streams import FunctionFailed, StreamConsumer, stream_subscriptions
from pointsnet.local.template import (
    TEMPLATE_PATH,
    LocalStack,
    load_template,
    named_resources,
    table_definitions,
)
from pointsnet.local.workers import InvocationFailed

if TYPE_CHECKING:
    from pointsnet.client import PointsNetClient
    from pointsnet.network.rates import Rates
    from pointsnet.partners.service import PartnerDirectory

STATE_FILE = "emulator.pickle"
POSITIONS_FILE = "stream-positions.json"
SAVE_EVERY_SECONDS = 30.0

logger = logging.getLogger("pointsnet.local")


@dataclass(frozen=True)
class LocalNetwork:
    """A running local API: where it listens and the demo network's keys (secrets included)."""

    base_url: str
    credentials: list[dict[str, str]]
    emulator_url: str
    environments: dict[str, dict[str, str]] = field(repr=False)
    credentials_path: Path | None = None
    event_log_path: Path | None = None
    scheduler: LocalScheduler | None = field(default=None, repr=False)
    consumers: tuple[StreamConsumer, ...] = field(default=(), repr=False)
    pollers: tuple[QueuePoller, ...] = field(default=(), repr=False)
    restored: bool = False
    executions: ExecutionDriver | None = field(default=None, repr=False)

    def key(self, partner_id: str = "starlodge", role: str = "partner") -> dict[str, str]:
        for key in self.credentials:
            if key["partner_id"] == partner_id and key["role"] == role:
                return key
        raise LookupError(f"no {role} key for {partner_id} in the demo network")

    def client(self, partner_id: str = "starlodge", role: str = "partner") -> PointsNetClient:
        from pointsnet.client import PointsNetClient

        key = self.key(partner_id, role)
        return PointsNetClient(self.base_url, key["key_id"], key["secret"])


@contextmanager
def local_network(
    port: int = 0,
    workers: int | None = 2,
    seed: bool = True,
    credentials_path: Path | None = None,
    *,
    template_path: Path = TEMPLATE_PATH,
    emulator_log: Path | None = None,
    log_level: str = "WARNING",
    warm_workers: int = 1,
    event_log: Path | None = None,
    streams: bool = True,
    schedules: bool = True,
    schedule_clock: Clock | None = None,
    state_dir: Path | None = None,
) -> Iterator[LocalNetwork]:
    """Emulator, tables, demo network, local API, stream consumers, state machines and schedules,
    torn down on exit.

    The credentials file is written only when `credentials_path` is given, the bus's events
    only when `event_log` is. Each function gets up to `workers` processes (None:
    POINTSNET_LOCAL_WORKERS, default 4; 0: in this process), `warm_workers` of them started up
    front. `schedule_clock` replaces the scheduler's clock (tests move it on). With `state_dir`
    the emulator's state is restored from there on start, saved there every
    `SAVE_EVERY_SECONDS` and on exit, and a restored network keeps its keys.
    POINTSNET_DYNAMODB_ENDPOINT sends DynamoDB elsewhere. Workers start with `spawn`: a
    script calling this needs the `if __name__ == "__main__":` guard.
    """
    template = load_template(template_path)
    stack = LocalStack(parameters=LOCAL_PARAMETERS)
    emulator = Emulator(
        log_path=emulator_log, state_path=state_dir / STATE_FILE if state_dir else None
    )
    with ExitStack() as running:
        endpoint_url = emulator.start()
        running.callback(emulator.stop)
        dynamodb_endpoint = os.environ.get(DYNAMODB_ENDPOINT_VARIABLE) or None
        environments = provision(
            template, stack, endpoint_url, dynamodb_endpoint, log_level=log_level
        )
        aws = aws_environment(endpoint_url, dynamodb_endpoint, stack.region)
        credentials = _credentials(emulator.restored, credentials_path, seed, environments)
        api = LocalApi(
            template,
            environments,
            stack=stack,
            port=port,
            workers=workers,
            warm_workers=warm_workers,
            # The stream consumer's first batch should not wait for an import.
            warm_functions=[sub.function for sub in stream_subscriptions(template, stack)]
            if streams
            else (),
        )
        base_url = api.start()
        running.callback(api.stop)
        if credentials_path is not None:
            write_credentials(credentials_path, base_url, credentials)

        log = None
        if event_log is not None:
            log = EventLog(
                event_log,
                events=aws_client("events", aws),
                sqs=aws_client("sqs", aws),
                bus_name=_event_bus(template, stack),
            )
            log.start()
            running.callback(log.stop)

        positions_path = state_dir / POSITIONS_FILE if state_dir else None
        consumers = (
            _start_consumers(template, stack, api, aws, positions_path, running) if streams else ()
        )
        pollers = _start_pollers(template, stack, api, aws, running) if streams else ()
        executions = _start_executions(template, stack, api, aws)
        running.callback(executions.stop)
        scheduler = None
        if schedules:
            scheduler = _start_scheduler(template, stack, api, aws, schedule_clock, executions)
            running.callback(scheduler.stop)
        api.control = LocalControl(scheduler, consumers)

        if state_dir is not None:
            saver = _PeriodicSave(emulator, consumers, positions_path)
            saver.start()
            # Runs before the emulator stops: positions are saved with the state they follow.
            running.callback(saver.stop)
        yield LocalNetwork(
            base_url=base_url,
            credentials=credentials,
            emulator_url=endpoint_url,
            environments=environments,
            credentials_path=credentials_path,
            event_log_path=event_log,
            scheduler=scheduler,
            consumers=consumers,
            pollers=pollers,
            restored=emulator.restored,
            executions=executions,
        )


def _credentials(
    restored: bool,
    credentials_path: Path | None,
    seed: bool,
    environments: Mapping[str, Mapping[str, str]],
) -> list[dict[str, str]]:
    """The demo network's keys: those of the credentials file over restored state, else new."""
    if restored and credentials_path is not None and credentials_path.exists():
        document = json.loads(credentials_path.read_text(encoding="utf-8"))
        return [dict(key) for key in document.get("keys", [])]
    if not seed:
        return []
    return seed_demo_network(partner_directory(environments), network_rates(environments))


# Where the local network departs from the template's defaults, as a deployment overriding
# parameters would: the journal writes each second, so a run sees a posting at once.
# Locally a changed policy, rule set or webhook secret applies at once: no function keeps one
# cached.
LOCAL_PARAMETERS = {
    "JournalBatchingSeconds": "1",
    "PolicyCacheSeconds": "0",
    # Receivers on this machine: a partner developing against the local network listens here.
    "WebhookLoopback": "allowed",
}


def _event_bus(template: Mapping[str, Any], stack: LocalStack) -> str:
    buses = named_resources(template, "AWS::Events::EventBus", stack)
    if len(buses) != 1:
        raise LookupError(f"the template declares {len(buses)} event buses; the log reads one")
    return next(iter(buses.values()))


def _start_consumers(
    template: Mapping[str, Any],
    stack: LocalStack,
    api: LocalApi,
    aws: Mapping[str, str],
    positions_path: Path | None,
    running: ExitStack,
) -> tuple[StreamConsumer, ...]:
    tables = {
        logical_id: definition["TableName"]
        for logical_id, definition in table_definitions(template, stack).items()
    }
    queues = named_resources(template, "AWS::SQS::Queue", stack)
    saved = (
        json.loads(positions_path.read_text(encoding="utf-8"))
        if positions_path is not None and positions_path.exists()
        else {}
    )
    sqs = aws_client("sqs", aws)
    consumers = []
    for subscription in stream_subscriptions(template, stack):

        def invoke(event: dict[str, Any], function: str = subscription.function) -> Any:
            try:
                return api.invoke_function(function, event)
            except InvocationFailed as exc:
                raise FunctionFailed(str(exc)) from exc

        queue = queues.get(subscription.on_failure_queue or "")
        consumer = StreamConsumer(
            subscription,
            table_name=tables[subscription.table],
            function_arn=api.runtimes[subscription.function].arn,
            invoke=invoke,
            dynamodb=aws_client("dynamodb", aws),
            streams=aws_client("dynamodbstreams", aws),
            sqs=sqs,
            failure_queue_url=sqs.get_queue_url(QueueName=queue)["QueueUrl"] if queue else None,
            position=saved.get(subscription.name),
        )
        consumer.start()
        running.callback(consumer.stop)
        consumers.append(consumer)
    return tuple(consumers)


def _start_pollers(
    template: Mapping[str, Any],
    stack: LocalStack,
    api: LocalApi,
    aws: Mapping[str, str],
    running: ExitStack,
) -> tuple[QueuePoller, ...]:
    """The template's SQS event sources (the webhook queue), each polled into its function."""
    pollers = []
    for subscription in queue_subscriptions(template, stack):

        def invoke(event: dict[str, Any], function: str = subscription.function) -> Any:
            return api.invoke_function(function, event)

        poller = QueuePoller(
            subscription, sqs=aws_client("sqs", aws), invoke=invoke, region=stack.region
        )
        poller.start()
        running.callback(poller.stop)
        pollers.append(poller)
    return tuple(pollers)


def _start_executions(
    template: Mapping[str, Any], stack: LocalStack, api: LocalApi, aws: Mapping[str, str]
) -> ExecutionDriver:
    """The template's state machines in the emulator, run on the functions' workers."""
    sfn = aws_client("stepfunctions", aws)
    provision_state_machines(sfn, template, stack)
    # As many Map items at once as a function has workers: none waits for a free one.
    driver = ExecutionDriver(
        sfn,
        state_machines(template, stack),
        worker_invoke(api.invoke_function),
        pool_size=max(1, api.workers),
        read_object=s3_reader(aws_client("s3", aws)),
    )
    driver.start()
    return driver


def _start_scheduler(
    template: Mapping[str, Any],
    stack: LocalStack,
    api: LocalApi,
    aws: Mapping[str, str],
    clock: Clock | None,
    executions: ExecutionDriver,
) -> LocalScheduler:
    scheduler_client = aws_client("scheduler", aws)
    arns = {logical_id: runtime.arn for logical_id, runtime in api.runtimes.items()}
    machine_arns = executions.state_machine_arns()
    provision_schedules(template, stack, scheduler_client, arns, machine_arns)
    scheduler = LocalScheduler(
        scheduler_client,
        api.invoke_function,
        {arn: logical_id for logical_id, arn in arns.items()},
        sqs=aws_client("sqs", aws),
        clock=clock,
        sfn=aws_client("stepfunctions", aws),
        state_machine_for_arn={arn: logical_id for logical_id, arn in machine_arns.items()},
    )
    scheduler.start()
    return scheduler


class _PeriodicSave:
    """Saves the emulator's state, and where each stream consumer got to, every little while."""

    def __init__(
        self,
        emulator: Emulator,
        consumers: Sequence[StreamConsumer],
        positions_path: Path | None,
    ) -> None:
        self._emulator = emulator
        self._consumers = consumers
        self._positions_path = positions_path
        self._background = Background("local-save", self._run, timeout=SAVE_EVERY_SECONDS)
        self._stopping = self._background.stopping

    def start(self) -> None:
        self._background.start()

    def stop(self) -> None:
        self._background.stop()
        for consumer in self._consumers:
            consumer.stop()
        self.save()

    def save(self) -> None:
        # Positions read before the state is saved are never ahead of it: a restart may send
        # an event again (as Lambda may), never skip one.
        positions = {
            consumer.subscription.name: consumer.position
            for consumer in self._consumers
            if consumer.position
        }
        self._emulator.save()
        if self._positions_path is not None:
            temporary = self._positions_path.with_suffix(".tmp")
            temporary.write_text(json.dumps(positions), encoding="utf-8")
            temporary.replace(self._positions_path)

    def _run(self) -> None:
        while not self._stopping.wait(SAVE_EVERY_SECONDS):
            try:
                self.save()
            except Exception:
                logger.exception("saving the local state failed")


def partner_directory(environments: Mapping[str, Mapping[str, str]]) -> PartnerDirectory:
    """The partner directory the functions read, reached with their own settings."""
    from pydantic import ValidationError

    from pointsnet.partners.service import PartnerDirectory
    from pointsnet.settings import Settings
    from pointsnet.store.directory_store import DirectoryStore
    from pointsnet.store.key_secrets import KeySecrets

    for environment in environments.values():
        try:
            settings = Settings.model_validate(dict(environment))
        except ValidationError:
            continue
        return PartnerDirectory(
            DirectoryStore(settings.directory_table, client=aws_client("dynamodb", environment)),
            KeySecrets(
                settings.key_secret_prefix, client=aws_client("secretsmanager", environment)
            ),
        )
    raise LookupError("no function of the template has the directory settings to seed")


def network_rates(environments: Mapping[str, Mapping[str, str]]) -> Rates:
    """The rate book the functions read, reached with their own settings."""
    from pydantic import ValidationError

    from pointsnet.network.rates import Rates
    from pointsnet.settings import Settings
    from pointsnet.store.network_store import NetworkStore

    for environment in environments.values():
        try:
            settings = Settings.model_validate(dict(environment))
        except ValidationError:
            continue
        client = aws_client("dynamodb", environment)
        return Rates(NetworkStore(settings.ledger_table, settings.directory_table, client=client))
    raise LookupError("no function of the template has the network settings to seed")
