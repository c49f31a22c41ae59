"""`python -m pointsnet.local`: the whole API on loopback, on an embedded AWS emulator.

Tests and benchmarks run the same thing in-process with `local_network()`, e.g.
`with local_network() as network: network.client("starlodge").earn("m-1", 100, "order-1")`.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from pointsnet.local.emulator import (
    DYNAMODB_ENDPOINT_VARIABLE,
    Emulator,
    EmulatorError,
    aws_client,
    provision,
)
from pointsnet.local.seed import prepare_state_dir, seed_demo_network, write_credentials
from pointsnet.local.server import LocalApi
from pointsnet.local.template import REPO_ROOT, TEMPLATE_PATH, LocalStack, load_template

if TYPE_CHECKING:
    from pointsnet.client import PointsNetClient
    from pointsnet.network.rates import Rates
    from pointsnet.partners.service import PartnerDirectory

STATE_DIR = REPO_ROOT / ".pointsnet"
CREDENTIALS_PATH = STATE_DIR / "local.json"
EMULATOR_LOG_PATH = STATE_DIR / "emulator.log"
DEFAULT_PORT = 3000


@dataclass(frozen=True)
class LocalNetwork:
    """A running local API: where it listens and the demo network's keys (secrets included)."""

    base_url: str
    credentials: list[dict[str, str]]
    emulator_url: str
    environments: dict[str, dict[str, str]] = field(repr=False)
    credentials_path: Path | None = None

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
) -> Iterator[LocalNetwork]:
    """Emulator, tables, demo network and local API, torn down on exit.

    The credentials file is written only when `credentials_path` is given. Each function
    gets up to `workers` processes (None: POINTSNET_LOCAL_WORKERS, default 4; 0: in this
    process), `warm_workers` of them started up front. POINTSNET_DYNAMODB_ENDPOINT sends
    DynamoDB elsewhere. Workers start with `spawn`: a script calling this needs the
    `if __name__ == "__main__":` guard.
    """
    template = load_template(template_path)
    stack = LocalStack()
    emulator = Emulator(log_path=emulator_log)
    api: LocalApi | None = None
    try:
        endpoint_url = emulator.start()
        dynamodb_endpoint = os.environ.get(DYNAMODB_ENDPOINT_VARIABLE) or None
        environments = provision(
            template, stack, endpoint_url, dynamodb_endpoint, log_level=log_level
        )
        credentials = (
            seed_demo_network(partner_directory(environments), network_rates(environments))
            if seed
            else []
        )
        api = LocalApi(
            template,
            environments,
            stack=stack,
            port=port,
            workers=workers,
            warm_workers=warm_workers,
        )
        base_url = api.start()
        if credentials_path is not None:
            write_credentials(credentials_path, base_url, credentials)
        yield LocalNetwork(
            base_url=base_url,
            credentials=credentials,
            emulator_url=endpoint_url,
            environments=environments,
            credentials_path=credentials_path,
        )
    finally:
        if api is not None:
            api.stop()
        emulator.stop()


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


# -- the command ------------------------------------------------------------------------------


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
    print("Starting the PointsNet local API...", flush=True)
    try:
        with local_network(
            port=port,
            workers=workers,
            credentials_path=CREDENTIALS_PATH,
            emulator_log=EMULATOR_LOG_PATH,
            log_level=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
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
    lines = [
        "",
        f"PointsNet local API  {network.base_url}",
        f"  credentials  {credentials_file}  (partner keys: {partners}; network: {operator})",
        f"  emulator     {network.emulator_url}  (DynamoDB: {dynamodb}; "
        f"log: {_display_path(EMULATOR_LOG_PATH)})",
        "",
        "Try it:",
        f"  curl {network.base_url}/v1/health",
        f"  {cli} earn guest-42 100 --reference stay-1",
        f"  {cli} balance guest-42",
        f"  {cli} --partner rideco earn rider-7 250 --reference ride-1",
        "",
        "Ctrl-C stops it.",
    ]
    if not _is_within(Path.cwd(), REPO_ROOT):
        # The CLI finds .pointsnet/local.json by walking up from the working directory.
        lines.insert(lines.index("Try it:") + 1, f"  cd {REPO_ROOT}")
    return "\n".join(lines)


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
