"""Where a function runs: worker processes that stand in for Lambda execution environments.

A worker serves one request at a time, keeps its module state between requests (warm starts),
and is replaced when it crashes or times out; it talks to the parent over a pipe. Powertools'
resolver keeps the current event in a class attribute, so a handler must never run in two
threads of one process at once. `InProcessFunction` runs a function in this process instead,
for debuggers.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from pointsnet.local.lambda_env import (
    FunctionRuntime,
    Handler,
    enter_function_environment,
    lambda_context,
)
from pointsnet.local.processes import exit_process, ignore_terminal_interrupts, start_process
from pointsnet.local.template import load_handler

logger = logging.getLogger("pointsnet.local")

WORKERS_VARIABLE = "POINTSNET_LOCAL_WORKERS"
DEFAULT_WORKERS = 4
WORKER_STARTUP_TIMEOUT_SECONDS = 60.0


def default_workers() -> int:
    raw = os.environ.get(WORKERS_VARIABLE, str(DEFAULT_WORKERS))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{WORKERS_VARIABLE} must be a whole number, got {raw!r}") from None


class InvocationFailed(Exception):
    """The function did not return a result: it raised, crashed, timed out or failed to load."""


class NoCapacity(Exception):
    """Every execution environment of the function stayed busy for the whole wait."""


class FunctionInvoker(Protocol):
    def start(self) -> None: ...

    def wait_started(self) -> None: ...

    def invoke(self, event: dict[str, Any], wait_seconds: float) -> Any: ...

    def stop(self) -> None: ...


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
