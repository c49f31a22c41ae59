"""The receiver docs/webhooks.md shows, run as written on loopback, recording what it handled."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"


def documented_receiver() -> str:
    """The Python block under "## A receiver" in docs/webhooks.md."""
    section = DOC.read_text(encoding="utf-8").split("## A receiver", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "docs/webhooks.md has no receiver example"
    return found.group(1)


@dataclass
class Receiver:
    """The documented receiver, listening; `failing` answers 503 before it reads anything."""

    url: str
    namespace: dict[str, Any]
    handled: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[dict[str, str]] = field(default_factory=list)
    failing: bool = False

    @property
    def secret(self) -> str:
        return str(self.namespace["SECRET"])

    @secret.setter
    def secret(self, value: str) -> None:
        self.namespace["SECRET"] = value

    @property
    def refused(self) -> int:
        """Arrivals the example answered 400 (its signature check refused them)."""
        return sum(1 for arrival in self.arrivals if arrival["answer"] == "400")


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    namespace: dict[str, Any] = {"__name__": "receiver"}
    exec(compile(documented_receiver(), str(DOC), "exec"), namespace)
    documented = namespace["Receiver"]
    receiver = Receiver(url="", namespace=namespace)
    namespace["handle"] = receiver.handled.append

    class Recording(documented):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:
            arrival = {name.lower(): value for name, value in self.headers.items()}
            receiver.arrivals.append(arrival)
            if receiver.failing:
                arrival["answer"] = "503"
                self.send_response(503)
                self.end_headers()
                return
            super().do_POST()

        def send_response(self, code: int, message: str | None = None) -> None:
            if receiver.arrivals:
                receiver.arrivals[-1].setdefault("answer", str(code))
            super().send_response(code, message)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
