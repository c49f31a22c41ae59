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


def test_the_readme_example_runs_as_written_and_again(tmp_path: Path) -> None:
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
        # When the README's example is pasted into bash, and then pasted again
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("POINTSNET_", "AWS_"))
        }
        first, second = (
            subprocess.run(
                ["bash", "-euo", "pipefail", "-c", readme_example()],
                cwd=tmp_path,
                env=environment | {"HOME": str(tmp_path)},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            for _ in range(2)
        )
    # Then every command succeeds and the rider ends with 200 x 0.25 = 50 RIDE
    assert first.returncode == 0, first.stderr
    assert last_table_row(first.stdout)[:3] == ["rider-7", "RIDE", "50"], first.stdout
    # And the event log showed the earns the network had published by then
    assert "points.earned" in first.stdout and "guest-42" in first.stdout, first.stdout
    # And the second paste succeeds too, replaying every write: nothing is posted twice, so
    # the guest starts it where the first left her (100 - 30 + 72 + 250 - 200) and the
    # rider still has 50
    assert second.returncode == 0, second.stderr
    assert balance_row(first.stdout, "guest-42") == ["guest-42", "STAR", "70", "0"]
    assert balance_row(second.stdout, "guest-42") == ["guest-42", "STAR", "192", "0"]
    assert "0 posted, 2 replayed, 0 refused" in second.stdout, second.stdout
    assert last_table_row(second.stdout)[:3] == ["rider-7", "RIDE", "50"], second.stdout


def last_table_row(stdout: str) -> list[str]:
    return stdout.strip().splitlines()[-1].split()


def balance_row(stdout: str, member: str) -> list[str]:
    """The first `pointsnet balance` row of `member` the paste printed."""
    lines = stdout.splitlines()
    header = next(
        index for index, line in enumerate(lines) if line.split()[:2] == ["member_id", "program"]
    )
    row = lines[header + 2].split()
    assert row[0] == member, lines[header : header + 3]
    return row
