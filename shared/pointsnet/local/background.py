"""The local runtime's background threads: the scheduler, the state machines' driver, the
stream and queue pollers, the event log and the state saver each run one."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Background:
    """A daemon thread that runs `target` once `start()` is called; `stopping` is set by
    `stop()`, which then waits up to `timeout` seconds for the target to return."""

    def __init__(self, name: str, target: Callable[[], None], timeout: float = 5.0) -> None:
        self.name, self._target, self._timeout = name, target, timeout
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._target, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout)
            self._thread = None
