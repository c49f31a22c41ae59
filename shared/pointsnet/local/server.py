"""The local API: an HTTP server that routes like API Gateway and invokes the template's functions.

Each function runs in worker processes that stand in for Lambda execution environments: a
process serves one request at a time, keeps its module state between requests (warm starts),
and is replaced when it crashes or times out. Powertools' resolver keeps the current event in
a class attribute, so a handler must never run in two threads of one process at once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, NoReturn, Protocol
from urllib.parse import unquote, urlsplit

from pointsnet.errors import PayloadTooLarge, PointsNetError, RateLimited, RouteNotFound
from pointsnet.local.events import http_api_event
from pointsnet.local.template import (
    REPO_ROOT,
    FunctionSpec,
    LocalStack,
    find_route,
    functions,
    http_routes,
    load_handler,
    resources_of_type,
)

logger = logging.getLogger("pointsnet.local")
access_log = logging.getLogger("pointsnet.local.access")

WORKERS_VARIABLE = "POINTSNET_LOCAL_WORKERS"
DEFAULT_WORKERS = 4
# API Gateway refuses larger payloads before any function sees them.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
# Beyond this an oversized body is not read at all; the connection is just closed.
MAX_DRAINED_BYTES = 64 * 1024 * 1024
# API Gateway's longest integration timeout: also how long a request waits for a free worker.
INTEGRATION_TIMEOUT_SECONDS = 30.0
WORKER_STARTUP_TIMEOUT_SECONDS = 60.0
HOP_BY_HOP_HEADERS = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Local only (no API Gateway route has it): the local runtime's own endpoints.
LOCAL_CONTROL_PREFIX = "/_local/"


# -- what a worker needs to know about its function -------------------------------------------


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


Handler = Callable[[dict[str, Any], Any], Any]


def lambda_variables(runtime: FunctionRuntime) -> dict[str, str]:
    """The variables Lambda itself sets in an execution environment."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": runtime.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(runtime.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    }


def enter_function_environment(runtime: FunctionRuntime) -> None:
    """Make this process look like the function's execution environment."""
    from pointsnet.local.emulator import SHADOWING_VARIABLES

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


# -- invocation -------------------------------------------------------------------------------


class InvocationFailed(Exception):
    """The function did not return a result: it raised, crashed, timed out or failed to load."""


class NoCapacity(Exception):
    """Every execution environment of the function stayed busy for the whole wait."""


class FunctionInvoker(Protocol):
    def start(self) -> None: ...

    def wait_started(self) -> None: ...

    def invoke(self, event: dict[str, Any], wait_seconds: float) -> Any: ...

    def stop(self) -> None: ...


def start_process(process: BaseProcess) -> None:
    """Start a child that ignores the terminal's Ctrl-C: the parent decides when it stops.

    The child must call `ignore_terminal_interrupts` first thing.
    """
    # A signal mask survives fork and exec: the child starts with SIGINT blocked, so a Ctrl-C
    # during its start-up cannot print a KeyboardInterrupt traceback from it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_terminal_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def exit_process() -> NoReturn:
    """Leave a child at once: its state is disposable, and interpreter teardown is slow."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _worker_main(runtime: FunctionRuntime, connection: Connection) -> None:
    """A worker process: load the function once, then serve one event at a time."""
    ignore_terminal_interrupts()
    enter_function_environment(runtime)
    handler, init_error = _initialise(runtime)
    connection.send(("ready", init_error))
    while True:
        try:
            event = connection.recv()
        except (EOFError, OSError):
            exit_process()  # the parent went away
        if event is None:
            exit_process()
        if handler is None:
            # Lambda retries a failed init on the next invoke; so do we.
            handler, init_error = _initialise(runtime)
            if handler is None:
                connection.send(("error", f"the function failed to initialise: {init_error}"))
                continue
        try:
            outcome: tuple[str, Any] = ("result", handler(event, lambda_context(runtime, event)))
        except Exception as exc:
            traceback.print_exc()
            outcome = ("error", f"the handler raised {type(exc).__name__}")
        try:
            connection.send(outcome)
        except Exception as exc:  # e.g. a result that cannot be pickled
            connection.send(("error", f"the handler's result could not be returned: {exc}"))


def _initialise(runtime: FunctionRuntime) -> tuple[Handler | None, str | None]:
    try:
        return load_handler(runtime.spec), None
    except BaseException as exc:
        traceback.print_exc()
        return None, f"{type(exc).__name__}: {exc}"


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    connection: Connection
    ready: bool = False


class WorkerPool:
    """Execution environments of one function: up to `size` worker processes (`spawn`).

    `warm` of them start with the pool; the others start when every started one is busy,
    as Lambda cold-starts a new environment for a concurrent request.
    """

    def __init__(self, runtime: FunctionRuntime, size: int, warm: int = 1) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.runtime = runtime
        self.size = size
        self.warm = max(0, min(warm, size))
        self._context = multiprocessing.get_context("spawn")
        # Last in, first out: the warmest environment takes the next request, as in Lambda.
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        for _ in range(self.warm):
            self._idle.put(self._spawn())

    def wait_started(self) -> None:
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            if not worker.ready:
                self._await_ready(worker)

    def invoke(self, event: dict[str, Any], wait_seconds: float) -> Any:
        worker = self._acquire(wait_seconds)
        reusable = False
        try:
            if not worker.ready:
                self._await_ready(worker)
            worker.connection.send(event)
            if not worker.connection.poll(self.runtime.timeout_seconds):
                raise InvocationFailed(
                    f"{self.runtime.logical_id} timed out after {self.runtime.timeout_seconds:g} s"
                )
            kind, payload = worker.connection.recv()
            reusable = True
        except (EOFError, OSError) as exc:
            raise InvocationFailed(
                f"{self.runtime.logical_id} exited (code {worker.process.exitcode})"
            ) from exc
        finally:
            if reusable:
                self._release(worker)
            else:
                self._discard(worker)
        if kind != "result":
            raise InvocationFailed(str(payload))
        return payload

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            with contextlib.suppress(OSError):  # a worker that already exited
                worker.connection.send(None)
        deadline = time.monotonic() + 5
        for worker in workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._retire(worker)

    def _acquire(self, wait_seconds: float) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            # Counted and registered under one lock: requests arriving together never start
            # more workers than the pool's size.
            grow = not self._closed and len(self._workers) < self.size
            new = self._register() if grow else None
        if new is not None:
            return self._launch(*new)
        try:
            return self._idle.get(timeout=wait_seconds)
        except queue.Empty:
            raise NoCapacity(f"no free worker for {self.runtime.logical_id}") from None

    def _spawn(self) -> _Worker:
        with self._lock:
            new = self._register()
        return self._launch(*new)

    def _register(self) -> tuple[_Worker, Connection]:
        """A worker counted in the pool, not yet started (the caller holds the lock)."""
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main,
            args=(self.runtime, child_end),
            name=f"pointsnet-{self.runtime.logical_id}",
            daemon=True,
        )
        worker = _Worker(process=process, connection=parent_end)
        self._workers.add(worker)
        return worker, child_end

    def _launch(self, worker: _Worker, child_end: Connection) -> _Worker:
        start_process(worker.process)
        child_end.close()
        return worker

    def _await_ready(self, worker: _Worker) -> None:
        if not worker.connection.poll(WORKER_STARTUP_TIMEOUT_SECONDS):
            raise InvocationFailed(f"a worker of {self.runtime.logical_id} did not start")
        _, init_error = worker.connection.recv()
        worker.ready = True
        if init_error:
            logger.error("%s failed to initialise: %s", self.runtime.logical_id, init_error)

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            closed = self._closed
        if closed:
            self._retire(worker)
        else:
            self._idle.put(worker)

    def _discard(self, worker: _Worker) -> None:
        # The next request that finds no idle worker starts a fresh one in its place.
        with self._lock:
            self._workers.discard(worker)
        self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=2)
        worker.connection.close()


class InProcessFunction:
    """A function run in this very process, one request at a time: for debuggers."""

    def __init__(self, runtime: FunctionRuntime, lock: threading.Lock) -> None:
        self.runtime = runtime
        self._lock = lock
        self._handler: Handler | None = None

    def start(self) -> None:
        with self._lock:
            enter_function_environment(self.runtime)
            self._handler = load_handler(self.runtime.spec)

    def wait_started(self) -> None:
        pass  # start() loads the handler before it returns

    def invoke(self, event: dict[str, Any], wait_seconds: float) -> Any:
        if not self._lock.acquire(timeout=wait_seconds):
            raise NoCapacity(f"{self.runtime.logical_id} stayed busy")
        try:
            if self._handler is None:
                raise InvocationFailed(f"{self.runtime.logical_id} is not started")
            # Functions of one process share os.environ: each request gets its own function's.
            os.environ.update(self.runtime.environment)
            return self._handler(event, lambda_context(self.runtime, event))
        except InvocationFailed:
            raise
        except Exception as exc:
            logger.exception("%s raised", self.runtime.logical_id)
            raise InvocationFailed(f"the handler raised {type(exc).__name__}") from exc
        finally:
            self._lock.release()

    def stop(self) -> None:
        self._handler = None


# -- HTTP -------------------------------------------------------------------------------------

# Connections a burst opens at once wait in the kernel's accept queue until the serving thread
# accepts them. socketserver's default of 5 refused or reset most of 40 concurrent clients;
# a burst of SDK clients, the bench or a load test needs hundreds. The kernel caps it at
# net.core.somaxconn.
LISTEN_BACKLOG = 1024


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = False


class BadRequest(Exception):
    """A request the HTTP layer refuses before any routing."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


def error_response(
    error: PointsNetError, request_id: str | None = None, *, close: bool = False
) -> HttpResponse:
    """A response with the API's error envelope, from the same mapping the functions use."""
    from pointsnet.api.errors import error_result

    request_id = request_id or str(uuid.uuid4())
    return proxy_result_to_http(error_result(error, request_id), request_id, close=close)


def proxy_result_to_http(result: Any, request_id: str, *, close: bool = False) -> HttpResponse:
    """What API Gateway answers for a function's payload 2.0 result."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 treats any other JSON value as the body of a 200.
        text = result if isinstance(result, str) else json.dumps(result)
        headers = [("Content-Type", "application/json"), ("Apigw-Requestid", request_id)]
        return HttpResponse(200, headers, text.encode())
    headers = [
        (str(name), str(value))
        for name, value in (result.get("headers") or {}).items()
        if str(name).lower() not in HOP_BY_HOP_HEADERS
    ]
    single_names = {name.lower() for name, _ in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if str(name).lower() in HOP_BY_HOP_HEADERS or str(name).lower() in single_names:
            continue
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
    if "apigw-requestid" not in {name.lower() for name, _ in headers}:
        headers.append(("Apigw-Requestid", request_id))
    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw_body)
    elif isinstance(raw_body, str):
        body = raw_body.encode("utf-8")
    else:
        body = json.dumps(raw_body).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, body, close=close)


class LocalApi:
    """The template's HTTP API on 127.0.0.1:`port`, each function in up to `workers` processes.

    `warm_workers` of each function start with the API, the rest on demand. `workers=0` runs
    every function in this process, one request at a time, for debuggers; None reads
    POINTSNET_LOCAL_WORKERS (default 4). It hosts the functions no route reaches too, for the
    local stream consumers and scheduler (`invoke_function`); those start on first use unless
    named in `warm_functions`. Paths under `/_local/` go to `control`, when one is set.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        environments: Mapping[str, Mapping[str, str]],
        *,
        stack: LocalStack | None = None,
        host: str = "127.0.0.1",
        port: int = 3000,
        workers: int | None = None,
        warm_workers: int = 1,
        warm_functions: Collection[str] = (),
    ) -> None:
        self.routes = http_routes(template)
        self.runtimes = function_runtimes(template, environments, stack)
        self.host = host
        self.port = port
        self.workers = default_workers() if workers is None else workers
        self.warm_workers = warm_workers
        if self.workers < 0:
            raise ValueError("workers must be 0 (in-process) or more")
        self.warm_functions = frozenset(warm_functions)
        self.control: Callable[[str, str, bytes], HttpResponse] | None = None
        self._invokers: dict[str, FunctionInvoker] = {}
        self._server: _LocalHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._saved_environment: dict[str, str | None] = {}

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local API is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Bind, start every function's workers, serve in a background thread; the base URL."""
        if self._server is not None:
            return self.base_url
        server = _LocalHttpServer((self.host, self.port), _LocalApiRequestHandler)
        server.api = self
        self._server = server
        try:
            self._start_functions()
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="pointsnet-local-api"
        )
        self._thread.daemon = True
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None:
                server.shutdown()
                self._thread.join(timeout=5)
                self._thread = None
            server.server_close()
        invokers, self._invokers = self._invokers, {}
        for invoker in invokers.values():
            invoker.stop()
        self._restore_environment()

    def __enter__(self) -> LocalApi:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def dispatch(
        self,
        method: str,
        raw_path: str,
        *,
        raw_query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        source_ip: str = "127.0.0.1",
    ) -> HttpResponse:
        """Route one request, invoke its function and shape the answer as API Gateway does."""
        if self.control is not None and raw_path.startswith(LOCAL_CONTROL_PREFIX):
            return self.control(method, raw_path, body)
        found = find_route(self.routes, method, raw_path)
        route, parameters = found if found else (None, {})
        event = http_api_event(
            method,
            raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            route=route,
            path_parameters=dict(parameters),  # from the path the HTTP front decoded once
            source_ip=source_ip,
        )
        request_id: str = event["requestContext"]["requestId"]
        if route is None:
            return error_response(RouteNotFound(f"no route {method} {raw_path}"), request_id)
        invoker = self._invokers.get(route.function)
        if invoker is None:
            return error_response(PointsNetError("the local API is not running"), request_id)
        try:
            result = invoker.invoke(event, INTEGRATION_TIMEOUT_SECONDS)
        except NoCapacity:
            logger.warning("%s: every worker stayed busy; answered 429", route.function)
            return error_response(
                RateLimited("every execution environment is busy; retry"), request_id
            )
        except InvocationFailed as exc:
            logger.error("%s %s failed: %s", method, raw_path, exc)
            return error_response(PointsNetError("an internal error occurred"), request_id)
        try:
            return proxy_result_to_http(result, request_id)
        except (TypeError, ValueError, KeyError) as exc:
            logger.error("%s returned a malformed response: %s", route.function, exc)
            return error_response(PointsNetError("an internal error occurred"), request_id)

    def _start_functions(self) -> None:
        if self.workers == 0:
            self._save_environment()
            lock = threading.Lock()
            invokers: dict[str, FunctionInvoker] = {
                logical_id: InProcessFunction(runtime, lock)
                for logical_id, runtime in self.runtimes.items()
            }
        else:
            invokers = {
                logical_id: WorkerPool(runtime, self.workers, self.warm_workers)
                for logical_id, runtime in self.runtimes.items()
            }
        warm = {route.function for route in self.routes} | self.warm_functions
        for logical_id, invoker in invokers.items():
            self._invokers[logical_id] = invoker
            if logical_id in warm or self.workers == 0:
                invoker.start()
        # Every function's workers import at once rather than one function after another.
        for logical_id, invoker in self._invokers.items():
            if logical_id in warm:
                invoker.wait_started()

    def invoke_function(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Invoke a function as Lambda's Invoke API would; InvocationFailed if it fails."""
        invoker = self._invokers.get(logical_id)
        if invoker is None:
            raise InvocationFailed(f"{logical_id} is not running")
        try:
            return invoker.invoke(event, self.runtimes[logical_id].timeout_seconds)
        except NoCapacity as exc:
            raise InvocationFailed(str(exc)) from exc

    def _save_environment(self) -> None:
        from pointsnet.local.emulator import SHADOWING_VARIABLES

        names = {name for runtime in self.runtimes.values() for name in runtime.environment}
        names |= set(SHADOWING_VARIABLES)
        names |= {name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")}
        names |= {name for runtime in self.runtimes.values() for name in lambda_variables(runtime)}
        self._saved_environment = {name: os.environ.get(name) for name in names}

    def _restore_environment(self) -> None:
        saved, self._saved_environment = self._saved_environment, {}
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def default_workers() -> int:
    raw = os.environ.get(WORKERS_VARIABLE, str(DEFAULT_WORKERS))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{WORKERS_VARIABLE} must be a whole number, got {raw!r}") from None


class _LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG
    api: LocalApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-response are routine; never print a traceback for them.
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _LocalApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PointsNetLocal"
    server: _LocalHttpServer

    def version_string(self) -> str:
        return self.server_version

    def handle_expect_100(self) -> bool:
        # Refuse an announced oversized body before the client sends it.
        try:
            length = self._declared_length()
        except BadRequest as refused:
            self._write(refused.response)
            return False
        if length > MAX_REQUEST_BODY_BYTES:
            self._write(self._too_large())
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The refusals BaseHTTPRequestHandler sends itself, in the API's envelope, not HTML.

        It answers a malformed request line or HTTP version, a request line over 64 KiB, a
        header line too long or too many headers, and a method no `do_` serves. It may run
        before the request line is parsed: `command` may be None or "", `headers` unset. The
        connection is always closed: whatever follows on it cannot be trusted to be a request.
        """
        self.log_error("code %d, message %s", code, message)
        if getattr(self, "request_version", "") in ("", "HTTP/0.9"):
            # Unparsed (or HTTP/0.9) requests would get a bare body with no status line.
            self.request_version = self.protocol_version
        reason = message or self.responses.get(code, ("refused", ""))[0]
        text = f"{reason}: {explain}" if explain else reason
        text = text if len(text) <= 200 else text[:197] + "..."
        # The status follows the contract's code (the one mapping), not the stdlib's 4xx/5xx.
        if code == 501:  # Not Implemented: a method no route serves
            response = error_response(
                RouteNotFound(f"no route serves this method: {text}"), close=True
            )
        else:
            response = _malformed(f"the HTTP request is malformed: {text}")
        self._write(response)
        access_log.info("%r refused %d", getattr(self, "requestline", "")[:200], response.status)

    def serve(self) -> None:
        started = time.perf_counter()
        try:
            response = self._respond()
        except Exception:
            logger.exception("the local API failed on %s %s", self.command, self.path)
            response = error_response(PointsNetError("an internal error occurred"))
        self._write(response)
        access_log.info(
            "%s %s %d %.0f ms",
            self.command,
            self.path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    def _respond(self) -> HttpResponse:
        target = urlsplit(self.path)
        try:
            body = self._read_body()
        except BadRequest as refused:
            return refused.response
        headers: dict[str, str] = {}
        for name in self.headers:
            if name.lower() not in headers:
                # API Gateway joins a repeated header's values with commas.
                headers[name.lower()] = ",".join(self.headers.get_all(name) or [])
        return self.server.api.dispatch(
            self.command,
            # API Gateway's HTTP API decodes the path once, before routing: `rawPath`,
            # `requestContext.http.path` and `pathParameters` all hold `cx:1` for `cx%3A1`.
            # The query stays as sent in `rawQueryString`.
            unquote(target.path or "/"),
            raw_query=target.query,
            headers=headers,
            body=body,
            source_ip=self.client_address[0],
        )

    def _declared_length(self) -> int:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            raise BadRequest(_malformed("Content-Length is not a whole number of bytes"))
        return length

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self._declared_length()
        if length > MAX_REQUEST_BODY_BYTES:
            self._discard(length)
            raise BadRequest(self._too_large())
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequest(
                    _malformed("a chunk size of the body is not hexadecimal")
                ) from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BODY_BYTES:
                raise BadRequest(self._too_large())
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _discard(self, length: int) -> None:
        if length > MAX_DRAINED_BYTES:
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)

    def _too_large(self) -> HttpResponse:
        return error_response(
            PayloadTooLarge(f"the body is over {MAX_REQUEST_BODY_BYTES} bytes"), close=True
        )

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        # close_connection is already set when the client asked for `Connection: close` (or
        # spoke HTTP/1.0): say so, as HTTP/1.1 asks of the final response on a connection.
        if response.close or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        # `command` is unset until a request line is read (send_error may answer before).
        if getattr(self, "command", None) != "HEAD" and response.body:
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # serve() logs one line per request with its duration

    def log_message(self, format: str, *args: Any) -> None:
        access_log.debug(format, *args)


def _malformed(message: str) -> HttpResponse:
    """The HTTP front's own answer to a request it cannot parse, before any route.

    API Gateway answers these `{"message": "Bad Request"}`; locally every answer carries the
    contract's envelope instead. The connection is closed: after a framing error nothing says
    where the next request would start.
    """
    from pointsnet.errors import MalformedRequest

    return error_response(MalformedRequest(message), close=True)


for _method in HTTP_METHODS:
    setattr(_LocalApiRequestHandler, f"do_{_method}", _LocalApiRequestHandler.serve)
