"""`pointsnet metrics PROGRAM --from DAY --to DAY`: a program's figures from the CLI."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_cli import Harness

ANSWER = {
    "program": "STAR",
    "period_start": "2025-02-01",
    "period_end": "2025-02-28",
    "currency": "USD",
    "point_value": "0.0025",
    "points_issued": 68,
    "points_outstanding": 68,
    "liability": "0.1700",
    "breakage": "1.5441",
    "retention": "0.7500",
    "lifetime_value": "76.00",
    "days_computed": 27,
    "days_missing": ["2025-02-27"],
    "previous_period_start": "2025-01-04",
    "previous_period_end": "2025-01-31",
    "previous_days_computed": 2,
    "outstanding_as_of": "2025-02-28",
    "outstanding_since": "2025-01-30",
    "estimated": True,
    "formulas": {"liability": "points_outstanding x point_value, exact"},
}


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_metrics_reads_the_period_and_shows_a_row_per_figure(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's answer for STAR's February
    harness.client.answers.append(ANSWER)
    # When the command is run
    assert harness.run("metrics", "STAR", "--from", "2025-02-01", "--to", "2025-02-28") == 0
    # Then it asked for that period of that program
    call = harness.client.calls[0]
    assert (call.method, call.path) == ("GET", "/v1/programs/STAR/metrics")
    assert call.query == {"period_start": "2025-02-01", "period_end": "2025-02-28"}
    # And it shows each figure as the API gave it, and the coverage beneath
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip()}
    assert (rows["liability"], rows["breakage"], rows["lifetime_value"]) == (
        "0.1700",
        "1.5441",
        "76.00",
    )
    assert "27 days computed, 1 missing (2025-02-27)" in out
    assert "member counts are estimates" in out


def test_metrics_as_json_prints_the_apis_answer(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's answer
    harness.client.answers.append(ANSWER)
    # When the command is run with --output json
    code = harness.run(
        "metrics", "STAR", "--from", "2025-02-01", "--to", "2025-02-28", "--output", "json"
    )
    # Then it prints the answer as it came, formulas included
    assert code == 0
    assert json.loads(capsys.readouterr().out) == ANSWER


def test_metrics_needs_both_ends_of_the_period(harness: Harness) -> None:
    # Given no period end
    # When the command is run
    code = harness.run("metrics", "STAR", "--from", "2025-02-01")
    # Then it is a usage error and nothing is asked
    assert code == 2
    assert harness.client.calls == []
