"""The embedded AWS emulator (moto's server) and the resources template.yaml declares on it.

moto runs in a child process of its own: its backends are process-wide state that a test's
`mock_aws` would reset under a running local API, and its CPU stays off the HTTP front's GIL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pointsnet.local.processes import exit_process, ignore_terminal_interrupts, start_process
from pointsnet.local.template import (
    LocalStack,
    bucket_names,
    bucket_settings,
    functions,
    named_resources,
    resources_of_type,
    table_definitions,
)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Variables of the caller's shell that would point a boto3 client at a real account or endpoint.
SHADOWING_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)
DYNAMODB_ENDPOINT_VARIABLE = "POINTSNET_DYNAMODB_ENDPOINT"
STARTUP_TIMEOUT_SECONDS = 30.0


class EmulatorError(RuntimeError):
    """The emulator could not be started."""


class Emulator:
    """moto's ThreadedMotoServer on loopback, in a child process, with its access log kept quiet.

    `log_path` receives moto's per-request log; None drops it. With `state_path`, the state of
    every service is restored from that file on start and written to it by `save()` and `stop()`.
    """

    def __init__(
        self, port: int = 0, log_path: Path | None = None, state_path: Path | None = None
    ) -> None:
        self.port = port
        self.log_path = log_path
        # Where the emulator's state is saved and restored from; None keeps nothing.
        self.state_path = state_path
        self.restored = False
        self._process: multiprocessing.process.BaseProcess | None = None
        self._control: Connection | None = None
        self._endpoint_url: str | None = None
        self._save_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise EmulatorError("the emulator is not running")
        return self._endpoint_url

    def start(self) -> str:
        """Start the server and return its endpoint URL."""
        if self._process is not None:
            return self.endpoint_url
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=_serve_emulator,
            args=(
                self.port,
                str(self.log_path) if self.log_path else None,
                str(self.state_path) if self.state_path else None,
                child_end,
            ),
            name="pointsnet-emulator",
            daemon=True,
        )
        start_process(process)
        child_end.close()
        return self._await_ready(process, parent_end)

    def _await_ready(
        self, process: multiprocessing.process.BaseProcess, control: Connection
    ) -> str:
        """Wait for the started child's first word: its port (and whether it restored state),
        or why it could not start; the endpoint URL."""
        self._process, self._control = process, control
        if not control.poll(STARTUP_TIMEOUT_SECONDS):
            self.stop()
            raise EmulatorError(f"moto did not start within {STARTUP_TIMEOUT_SECONDS:.0f} s")
        try:
            status, detail = control.recv()
        except EOFError:
            status, detail = "error", f"the emulator process exited ({process.exitcode})"
        if status != "ok":
            self.stop()
            raise EmulatorError(f"moto could not start on 127.0.0.1:{self.port}: {detail}")
        port, self.restored = detail
        self._endpoint_url = f"http://127.0.0.1:{port}"
        return self._endpoint_url

    def save(self) -> None:
        """Write the emulator's state to `state_path` (nothing without one)."""
        control = self._control
        if control is None or self.state_path is None:
            return
        with self._save_lock:
            control.send("save")
            if not control.poll(STARTUP_TIMEOUT_SECONDS):
                raise EmulatorError("the emulator did not save its state in time")
            status, detail = control.recv()
        if status != "saved":
            raise EmulatorError(f"the emulator could not save its state: {detail}")

    def stop(self) -> None:
        if self.state_path is not None and self._control is not None:
            try:
                self.save()
            except (EmulatorError, OSError, EOFError) as exc:
                logging.getLogger("pointsnet.local").error("%s", exc)
        process, control = self._process, self._control
        self._process = self._control = None
        self._endpoint_url = None
        if control is not None:
            with contextlib.suppress(OSError):  # the process is already gone
                control.send("stop")
        if process is not None:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        if control is not None:
            control.close()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _serve_emulator(
    port: int, log_path: str | None, state_path: str | None, control: Connection
) -> None:
    """Child process: run moto until the parent says stop or goes away."""
    from pointsnet.local import moto_state, moto_transactions

    ignore_terminal_interrupts()
    _quiet_access_log(Path(log_path) if log_path else None)
    # Without it every transaction copies the tables it touches: writes slow as data grows.
    moto_transactions.install()
    dynamodb_lock = threading.Lock()
    try:
        restored = moto_state.restore(Path(state_path)) if state_path else False
        server = _moto_server(port, dynamodb_lock)
    except Exception as exc:
        control.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    control.send(("ok", (server.server_address[1], restored)))
    with contextlib.suppress(EOFError, OSError):  # a parent that died means stop too
        while control.recv() == "save" and state_path:
            try:
                # No DynamoDB request is half applied while the tables are written out.
                with dynamodb_lock:
                    moto_state.save(Path(state_path))
                control.send(("saved", None))
            except Exception as exc:
                control.send(("error", f"{type(exc).__name__}: {exc}"))
    # moto's state lives only in this process: ending it is the whole clean-up.
    exit_process()


def _moto_server(port: int, dynamodb_lock: threading.Lock) -> Any:
    """moto's threaded server, with DynamoDB requests taken one at a time.

    DynamoDB applies each request atomically; moto's backend does not lock, so two
    concurrent conditional transactions could both pass their checks. One lock around
    DynamoDB restores the guarantee the ledger relies on; other services stay concurrent.
    """
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    application = DomainDispatcherApplication(create_backend_app)

    def serialised(environ: dict[str, Any], start_response: Any) -> Any:
        # Streams too: a GetRecords must not see a transaction's records before it commits.
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(("DynamoDB_", "DynamoDBStreams_")):
            with dynamodb_lock:
                return list(application(environ, start_response))
        return application(environ, start_response)

    return make_server("127.0.0.1", port, serialised, True, request_handler=MotoRequestHandler)


def _quiet_access_log(log_path: Path | None) -> None:
    # werkzeug adds a stderr handler only when its logger has none; give it ours first.
    access_log = logging.getLogger("werkzeug")
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    handler: logging.Handler
    if log_path is None:
        handler = logging.NullHandler()
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access_log.addHandler(handler)


def aws_environment(
    endpoint_url: str, dynamodb_endpoint_url: str | None = None, region: str | None = None
) -> dict[str, str]:
    """What points boto3 at the emulator: endpoints, region and fake credentials."""
    region = region or LocalStack().region
    environment = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **FAKE_CREDENTIALS,
    }
    if dynamodb_endpoint_url:
        environment["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_endpoint_url
    return environment


def aws_client(service: str, environment: Mapping[str, str]) -> Any:
    """A boto3 client configured from `environment` only, whatever the process's own variables."""
    import boto3

    # Typed loosely: boto3-stubs only type `client()` for literal service names.
    session: Any = boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=environment.get("AWS_SESSION_TOKEN"),
        region_name=environment["AWS_DEFAULT_REGION"],
    )
    service_variable = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
    endpoint = environment.get(service_variable) or environment["AWS_ENDPOINT_URL"]
    return session.client(service, endpoint_url=endpoint)


def create_buckets(s3: Any, template: Mapping[str, Any], stack: LocalStack) -> None:
    """Create the template's buckets as it declares them; existing ones are kept."""
    from botocore.exceptions import ClientError

    for bucket, settings in bucket_settings(template, stack).items():
        try:
            s3.create_bucket(Bucket=bucket, **settings["create"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
            continue
        if settings["versioning"]:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=settings["versioning"])
        if settings["lock"]:
            s3.put_object_lock_configuration(
                Bucket=bucket, ObjectLockConfiguration=settings["lock"]
            )


# The queue properties that change how a message is received, as SetQueueAttributes names them.
QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")


def create_queues(sqs: Any, template: Mapping[str, Any], stack: LocalStack) -> None:
    """The template's queues, with their visibility, retention and redrive to a dead letter."""
    names = named_resources(template, "AWS::SQS::Queue", stack)
    # All of them first: a redrive policy names its dead-letter queue, which must exist.
    urls = {
        logical_id: sqs.create_queue(QueueName=name)["QueueUrl"]  # existing: a no-op
        for logical_id, name in names.items()
    }
    for logical_id, resource in resources_of_type(template, "AWS::SQS::Queue").items():
        url = urls[logical_id]
        props = stack.resolve(resource.get("Properties", {}), template)
        attributes = {name: str(props[name]) for name in QUEUE_ATTRIBUTES if name in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)


def create_rules(events: Any, template: Mapping[str, Any], stack: LocalStack) -> None:
    """The template's EventBridge rules and their targets (the emulator delivers to SQS)."""
    for logical_id, resource in resources_of_type(template, "AWS::Events::Rule").items():
        props = stack.resolve(resource["Properties"], template)
        name = props.get("Name", stack.physical_name(logical_id))
        bus = props.get("EventBusName", "default")
        events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            Description=props.get("Description", ""),
        )
        events.put_targets(
            Rule=name,
            EventBusName=bus,
            Targets=[{"Id": target["Id"], "Arn": target["Arn"]} for target in props["Targets"]],
        )


def provision(
    template: Mapping[str, Any],
    stack: LocalStack,
    endpoint_url: str,
    dynamodb_endpoint_url: str | None = None,
    *,
    log_level: str = "WARNING",
) -> dict[str, dict[str, str]]:
    """Create the template's tables, buckets, queues and buses (existing ones are kept).

    Returns, by function logical id, the environment that function runs with: the
    template's resolved variables, pointed at the emulator, with local observability.
    """
    from botocore.exceptions import ClientError

    aws = aws_environment(endpoint_url, dynamodb_endpoint_url, stack.region)
    dynamodb = aws_client("dynamodb", aws)
    for definition in table_definitions(template, stack).values():
        try:
            dynamodb.create_table(**definition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        dynamodb.get_waiter("table_exists").wait(
            TableName=definition["TableName"], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )

    if bucket_names(template, stack):
        create_buckets(aws_client("s3", aws), template, stack)

    create_queues(aws_client("sqs", aws), template, stack)
    events = aws_client("events", aws)
    for bus in named_resources(template, "AWS::Events::EventBus", stack).values():
        try:
            events.create_event_bus(Name=bus)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
    create_rules(events, template, stack)

    local_observability = {
        # No X-Ray daemon and no CloudWatch here: EMF lines would only clutter the terminal.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": log_level,
    }
    return {
        logical_id: {**spec.environment, **aws, **local_observability}
        for logical_id, spec in functions(template, stack).items()
    }
