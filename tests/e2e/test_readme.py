"""The README's example works when pasted, against a local network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pointsnet.local.runtime import local_network

REPO_ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```sh\n(pn=\.venv/bin/pointsnet\n.*?)```", text, re.S)
    assert found, "README.md has no example starting with pn=.venv/bin/pointsnet"
    return found.group(1)


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    # Given a folder laid out like the repository after `make run`
    # The virtualenv running these tests stands in for the one `make run` creates.
    (tmp_path / ".venv").symlink_to(sys.prefix)
    state = tmp_path / ".pointsnet"
    with local_network(
        port=0,
        workers=2,
        credentials_path=state / "local.json",
        event_log=state / "events.jsonl",
        schedules=False,
    ):
        # When the README's example is pasted into bash
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("POINTSNET_", "AWS_"))
        }
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", readme_example()],
            cwd=tmp_path,
            env=environment | {"HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # Then every command succeeds and the rider ends with 200 x 0.25 = 50 RIDE
    assert done.returncode == 0, done.stderr
    last_table_row = done.stdout.strip().splitlines()[-1].split()
    assert last_table_row[:3] == ["rider-7", "RIDE", "50"], done.stdout
    # And the event log showed the earns the network had published by then
    assert "points.earned" in done.stdout and "guest-42" in done.stdout, done.stdout
