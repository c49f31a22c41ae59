"""The local network runs the metrics function from the template: its daily schedule folds the
journal the stream consumer wrote, and `pointsnet metrics` reads the figures over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pointsnet import cli
from pointsnet.local.runtime import local_network
from tests.e2e.test_local_network_runs import MovableClock, wait_for


def test_the_daily_schedule_computes_what_pointsnet_metrics_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local network, its scheduler a day ahead, and a member who earned 120 STAR today
    clock = MovableClock()
    credentials = tmp_path / ".pointsnet" / "local.json"
    with local_network(
        port=0, workers=1, credentials_path=credentials, schedule_clock=clock
    ) as network:
        assert network.scheduler is not None
        today = datetime.now(UTC).date()
        network.client("starlodge").earn("guest-1", 120, "stay-1")
        clock.advance(timedelta(days=1))

        # When the daily metrics schedule fires (again, until the journal has the earn)
        def computed() -> dict[str, Any] | None:
            assert network.scheduler is not None
            outcome = network.scheduler.run_now("DailyMetrics")
            assert outcome["status"] == "succeeded", outcome
            (report,) = outcome["result"]["days"]
            return report if report["entries"] else None

        report = wait_for(computed)
        # Then it computed today, for both programs, from the journal
        assert report["day"] == today.isoformat()
        assert report["programs"] == ["RIDE", "STAR"]

        # And starlodge reads its figures with the CLI, over the local server
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        day = today.isoformat()
        code = cli.main(["metrics", "STAR", "--from", day, "--to", day, "--output", "json"])
        assert code == 0
        figures = json.loads(capsys.readouterr().out)
    assert (figures["points_issued"], figures["points_outstanding"]) == (120, 120)
    assert (figures["liability"], figures["active_members"], figures["new_members"]) == (
        "0.3000",
        1,
        1,
    )
    assert (figures["days_computed"], figures["days_missing"]) == (1, [])
