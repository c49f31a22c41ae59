"""The local network runs what AWS runs: the stream consumer, the schedules, and kept state."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pointsnet import cli
from pointsnet.local.runtime import local_network

WAIT_SECONDS = 20.0


def wait_for(condition: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    """Poll `condition` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"nothing came within {seconds:.0f} s")


def events_of(path: Path, event_type: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [event for event in map(json.loads, lines) if event["detail-type"] == event_type]


class MovableClock:
    """A clock that runs with real time from wherever a test moved it to."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> None:
        with self._lock:
            self._offset += by


def test_an_earn_through_the_local_server_is_published_to_the_event_log(tmp_path: Path) -> None:
    # Given a local network writing its bus's events to a file
    log = tmp_path / "events.jsonl"
    with local_network(port=0, workers=1, event_log=log, schedules=False) as network:
        # When a partner earns points for a member over HTTP
        earned = network.client("starlodge").earn("guest-1", 120, "stay-1")
        transaction_id = earned["transaction"]["transaction_id"]

        # Then the stream consumer publishes points.earned, which lands in the file
        published = wait_for(lambda: events_of(log, "points.earned"))
    assert len(published) == 1
    detail = published[0]["detail"]
    assert detail["partner_id"] == "starlodge"
    assert detail["data"]["transaction_id"] == transaction_id
    assert detail["data"]["member_id"] == "guest-1"
    assert detail["data"]["points"] == 120
    assert detail["data"]["balance"] == {"available": 120, "pending": 0}


def test_the_running_schedule_voids_a_timed_out_hold_and_schedules_run_fires_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local network whose scheduler runs on a clock the test moves, and a program
    # whose holds time out after one day
    clock = MovableClock()
    credentials = tmp_path / ".pointsnet" / "local.json"
    with local_network(
        port=0,
        workers=1,
        credentials_path=credentials,
        schedule_clock=clock,
        streams=False,
    ) as network:
        network.client("network", "admin").set_policy("starlodge", {"hold_timeout_days": 1})
        starlodge = network.client("starlodge")
        hold = starlodge.earn("guest-2", 80, "stay-2", pending=True)["transaction"]
        assert starlodge.get_member("guest-2")["balance"]["pending"] == 80

        # When a day and one 15-minute slot pass on the scheduler's clock
        clock.advance(timedelta(days=1, minutes=16))

        # Then VoidTimedOutHolds runs by itself and voids the hold
        def voided() -> bool:
            balance = starlodge.get_member("guest-2")["balance"]
            return balance["pending"] == 0

        wait_for(voided)
        assert starlodge.get_transaction(hold["transaction_id"])["hold"]["status"] == "voided"
        assert network.scheduler is not None
        schedule = network.scheduler.find("VoidTimedOutHolds")
        # The run is recorded once the function has answered, a moment after its writes.
        ran = wait_for(lambda: schedule.last_run)
        assert ran["status"] == "succeeded"
        # And the sweep ran at the moved clock's time, past the hold's one-day timeout
        placed = datetime.fromisoformat(hold["created_at"].replace("Z", "+00:00"))
        swept = datetime.fromisoformat(ran["scheduled_time"].replace("Z", "+00:00"))
        assert swept >= placed + timedelta(days=1)

        # And `pointsnet schedules run` fires a schedule now, through the running network
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        assert cli.main(["schedules", "run", "SweepPoints", "--output", "json"]) == 0
        outcome = json.loads(capsys.readouterr().out)
        assert outcome["name"] == "LifecycleFunctionSweepPoints"
        assert outcome["status"] == "succeeded"
        assert outcome["result"]["job"] == "points"

        # And `pointsnet schedules list` shows every schedule with its next run
        assert cli.main(["schedules", "list", "--output", "json"]) == 0
        listed = {item["name"]: item for item in json.loads(capsys.readouterr().out)["items"]}
        assert {"LifecycleFunctionVoidTimedOutHolds", "ReconciliationStateMachineScheduled"} <= set(
            listed
        )
        assert all(item["next_run"] for item in listed.values())
        assert listed["LifecycleFunctionSweepPoints"]["last_run"]["status"] == "succeeded"


def test_a_persisted_restart_keeps_balances_keys_and_where_the_stream_got_to(
    tmp_path: Path,
) -> None:
    # Given a persisted local network in which a member earned, and its event was published
    state = tmp_path / "state"
    credentials = tmp_path / ".pointsnet" / "local.json"
    log = tmp_path / "events.jsonl"
    options: dict[str, Any] = {
        "port": 0,
        "workers": 1,
        "credentials_path": credentials,
        "event_log": log,
        "state_dir": state,
        "schedules": False,
    }
    with local_network(**options) as first:
        assert not first.restored
        first.client("starlodge").earn("guest-3", 250, "stay-3")
        wait_for(lambda: events_of(log, "points.earned"))
    keys_before = json.loads(credentials.read_text(encoding="utf-8"))["keys"]

    # When the network stops and starts again over the same state
    with local_network(**options) as second:
        # Then it was restored, the keys written before still sign, and the balance is there
        assert second.restored
        keys_after = json.loads(credentials.read_text(encoding="utf-8"))["keys"]
        assert keys_after == keys_before
        starlodge = second.client("starlodge")
        assert starlodge.get_member("guest-3")["balance"]["available"] == 250

        # And the stream carries on after what it had published: a new earn is published once,
        # the old one is not published again
        starlodge.earn("guest-3", 5, "stay-4")
        wait_for(lambda: len(events_of(log, "points.earned")) >= 2)
        time.sleep(1.5)  # one more batching window: a republished old event would show now
    references = [event["detail"]["data"]["reference"] for event in events_of(log, "points.earned")]
    assert references == ["stay-3", "stay-4"]
