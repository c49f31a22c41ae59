"""`python -m pointsnet.local` (what `make run` starts): the local network in a terminal.

It keeps its files in `.pointsnet/`, prints a banner of where everything is and what to try,
logs to stderr, and stops cleanly on Ctrl-C or SIGTERM (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pointsnet.local.emulator import DYNAMODB_ENDPOINT_VARIABLE, EmulatorError
from pointsnet.local.runtime import LocalNetwork, local_network
from pointsnet.local.seed import prepare_state_dir
from pointsnet.local.template import REPO_ROOT

STATE_DIR = REPO_ROOT / ".pointsnet"
CREDENTIALS_PATH = STATE_DIR / "local.json"
EMULATOR_LOG_PATH = STATE_DIR / "emulator.log"
EVENT_LOG_PATH = STATE_DIR / "events.jsonl"
# `PERSIST=1 make run` keeps the emulator's state here.
PERSISTED_STATE_DIR = STATE_DIR / "state"
DEFAULT_PORT = 3000


def run(port: int | None = None, workers: int | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the process exit code."""
    port = int(os.environ.get("PORT", DEFAULT_PORT)) if port is None else port
    _log_to_terminal()
    stopping = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for a clean shutdown
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    prepare_state_dir(STATE_DIR)
    persist = os.environ.get("PERSIST", "") not in ("", "0")
    if not persist:
        # A fresh network: yesterday's events are not this network's.
        EVENT_LOG_PATH.unlink(missing_ok=True)
    print("Starting the PointsNet local API...", flush=True)
    try:
        with local_network(
            port=port,
            workers=workers,
            credentials_path=CREDENTIALS_PATH,
            emulator_log=EMULATOR_LOG_PATH,
            log_level=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            event_log=EVENT_LOG_PATH,
            state_dir=PERSISTED_STATE_DIR if persist else None,
        ) as network:
            print(banner(network), flush=True)
            while not stopping.wait(0.5):
                pass
            print("Stopping...", flush=True)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"error: port {port} is in use; choose another with PORT=...", file=sys.stderr)
            return 1
        raise
    except EmulatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("Stopped.", flush=True)
    return 0


def main() -> int:
    try:
        return run()
    except KeyboardInterrupt:
        return 130


def banner(network: LocalNetwork) -> str:
    credentials_file = (
        _display_path(network.credentials_path) if network.credentials_path else "(not written)"
    )
    partners = ", ".join(
        key["partner_id"] for key in network.credentials if key["role"] == "partner"
    )
    operator = ", ".join(key["role"] for key in network.credentials if key["role"] != "partner")
    dynamodb = os.environ.get(DYNAMODB_ENDPOINT_VARIABLE) or "embedded"
    cli = cli_command()
    events = _display_path(network.event_log_path) if network.event_log_path else "(not written)"
    lines = [
        "",
        f"PointsNet local API  {network.base_url}",
        f"  credentials  {credentials_file}  (partner keys: {partners}; network: {operator})",
        f"  emulator     {network.emulator_url}  (DynamoDB: {dynamodb}; "
        f"log: {_display_path(EMULATOR_LOG_PATH)})",
        f"  events       {events}  (stream consumers: {len(network.consumers)}; "
        f"schedules: {len(network.scheduler.schedules()) if network.scheduler else 0})",
        f"  state        {_state_line(network)}",
        "",
        "Try it:",
        f"  curl {network.base_url}/v1/health",
        f"  {cli} earn guest-42 100 --reference stay-1",
        f"  {cli} balance guest-42",
        f"  {cli} --partner rideco earn rider-7 250 --reference ride-1",
        f"  {cli} events tail --follow",
        f"  {cli} schedules list",
        "",
        "Ctrl-C stops it.",
    ]
    if not _is_within(Path.cwd(), REPO_ROOT):
        # The CLI finds .pointsnet/local.json by walking up from the working directory.
        lines.insert(lines.index("Try it:") + 1, f"  cd {REPO_ROOT}")
    return "\n".join(lines)


def _state_line(network: LocalNetwork) -> str:
    if os.environ.get("PERSIST", "") in ("", "0"):
        return "fresh: nothing is kept after Ctrl-C (PERSIST=1 make run keeps it)"
    where = _display_path(PERSISTED_STATE_DIR)
    return f"kept in {where} ({'restored' if network.restored else 'new'}; saved on Ctrl-C)"


def cli_command() -> str:
    """How to run the `pointsnet` command with this interpreter, as a user would type it."""
    script = Path(sys.executable).parent / "pointsnet"
    if script.exists():
        return _display_path(script)
    command = f"{_display_path(Path(sys.executable))} -m pointsnet.cli"
    shared = REPO_ROOT / "shared"
    python_path = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    if any(Path(entry).resolve() == shared.resolve() for entry in python_path):
        # The package is not installed: the CLI needs the same PYTHONPATH as this process.
        return f"PYTHONPATH={_display_path(shared)} {command}"
    return command


def _display_path(path: Path) -> str:
    cwd = Path.cwd()
    if _is_within(path, cwd):
        return str(path.relative_to(cwd))
    return str(path)


def _is_within(path: Path, directory: Path) -> bool:
    try:
        path.absolute().relative_to(directory.absolute())
    except ValueError:
        return False
    return True


def _log_to_terminal() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    local_logger = logging.getLogger("pointsnet.local")
    local_logger.addHandler(handler)
    local_logger.setLevel(logging.INFO)
    local_logger.propagate = False
