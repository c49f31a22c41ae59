"""The local API: the template's HTTP API on loopback, tying the HTTP front to the functions.

`LocalApi` starts each function's execution environments (`workers`), serves HTTP in a
background thread (`http_front`), routes requests as API Gateway does (`gateway`), and lets the
stream consumers and the scheduler invoke functions no route reaches (`invoke_function`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from typing import Any

from pointsnet.local import gateway
from pointsnet.local.gateway import HttpResponse
from pointsnet.local.http_front import ControlEndpoints, LocalApiRequestHandler, LocalHttpServer
from pointsnet.local.lambda_env import environment_snapshot, function_runtimes, restore_environment
from pointsnet.local.template import LocalStack, http_routes
from pointsnet.local.workers import (
    FunctionInvoker,
    InProcessFunction,
    InvocationFailed,
    NoCapacity,
    WorkerPool,
    default_workers,
)


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
        self.control: ControlEndpoints | None = None
        self._invokers: dict[str, FunctionInvoker] = {}
        self._server: LocalHttpServer | None = None
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
        server = LocalHttpServer((self.host, self.port), LocalApiRequestHandler)
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
        return gateway.dispatch(
            self.routes,
            self._invokers,
            method,
            raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            source_ip=source_ip,
        )

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
        self._saved_environment = environment_snapshot(self.runtimes.values())

    def _restore_environment(self) -> None:
        saved, self._saved_environment = self._saved_environment, {}
        restore_environment(saved)
