"""`pointsnet settle` and `pointsnet settlements`, driven through main() with a scripted client."""

from __future__ import annotations

import io
import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pointsnet import cli
from pointsnet.cli import GlobalOptions, Progress
from pointsnet.client import ApiResponse, PointsNetClient, PointsNetError

SETTLEMENT: dict[str, Any] = {
    "settlement_id": "stl_20250301_20250301",
    "kind": "settlement",
    "period_start": "2025-03-01",
    "period_end": "2025-03-01",
    "currency": "USD",
    "status": "needs_review",
    "version": 1,
    "lines": [
        {
            "payer": "rideco",
            "payee": "starlodge",
            "program": "STAR",
            "points": 1002,
            "exact_amount": "2.5050",
            "amount": "2.50",
        }
    ],
    "net_positions": [
        {"partner_id": "rideco", "amount": "-2.50"},
        {"partner_id": "starlodge", "amount": "2.50"},
    ],
    "rounding": {"exact_total": "2.5050", "settled_total": "2.50", "residual": "-0.0050"},
    "checks": [
        {"name": "transactions_balance", "ok": True, "offending": 0, "details": []},
        {
            "name": "balances_match_entries",
            "ok": False,
            "offending": 1,
            "details": [{"id": "member:starlodge:guest-1", "message": "stored 5, sum 0"}],
        },
    ],
}


@dataclass
class Call:
    method: str
    path: str
    query: Any
    body: Any
    idempotency_key: str | None


class ScriptedClient(PointsNetClient):
    """The real typed methods over a `request` that records calls and answers from a script."""

    def __init__(self, *answers: ApiResponse | PointsNetError) -> None:
        super().__init__("http://pointsnet.invalid", "k-test", "secret")
        self.calls: list[Call] = []
        self.answers: deque[ApiResponse | PointsNetError] = deque(answers)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Any = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
        signed: bool = True,
    ) -> ApiResponse:
        self.calls.append(Call(method, path, query, json_body, idempotency_key))
        answer = self.answers.popleft()
        if isinstance(answer, PointsNetError):
            raise answer
        return answer


def answer(body: Any, status: int = 200, content_type: str = "application/json") -> ApiResponse:
    return ApiResponse(status=status, headers={"content-type": content_type}, body=body)


def run(client: ScriptedClient, *argv: str) -> tuple[int, list[GlobalOptions]]:
    chosen: list[GlobalOptions] = []

    def factory(options: GlobalOptions) -> PointsNetClient:
        chosen.append(options)
        return client

    return cli.main(list(argv), client_factory=factory), chosen


def test_settle_repeats_the_run_request_until_the_settlement_is_done(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an API that needs three requests to finish the run
    progress = {"run_id": "run_1", "status": "running", "items": 64}
    client = ScriptedClient(
        answer(progress, 202),
        answer(progress, 202),
        answer(SETTLEMENT, 201),
    )
    # When an operator settles the day
    code, chosen = run(
        client, "settle", "--period-start", "2025-03-01", "--period-end", "2025-03-01"
    )
    out, err = capsys.readouterr()
    # Then every request was the same one, with one Idempotency-Key, and the admin key was used
    assert code == 0
    assert [(call.method, call.path) for call in client.calls] == [
        ("POST", "/v1/settlement-runs")
    ] * 3
    assert {call.idempotency_key for call in client.calls} != {None}
    assert len({call.idempotency_key for call in client.calls}) == 1
    assert client.calls[0].body == {"period_start": "2025-03-01", "period_end": "2025-03-01"}
    assert chosen[0].local_role == "admin"
    # And the progress was shown on stderr, the lines and the failing check on stdout
    assert err.count("run run_1 running: 64 journal shards to check") == 2
    assert "done in" in err
    assert "rideco" in out and "2.50" in out
    assert "check FAILED balances_match_entries: 1 (member:starlodge:guest-1)" in out
    assert "net positions (USD, + receives): rideco -2.50, starlodge 2.50" in out


def test_settle_reports_an_api_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an API that refuses a settlement run whose period overlaps another
    client = ScriptedClient(PointsNetError(409, "conflict", "period overlaps stl_x", "req-1"))
    # When an operator settles the two days
    code, _ = run(client, "settle", "--period-start", "2025-03-01", "--period-end", "2025-03-02")
    # Then the command exits with the API error code and says the error's code and message
    assert code == cli.EXIT_API_ERROR
    assert "conflict: period overlaps stl_x" in capsys.readouterr().err


def test_settlement_commands_use_the_finance_key_and_the_finance_endpoints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an API that answers a list, a settlement, and its approval, dispute and payment
    client = ScriptedClient(
        answer({"items": [SETTLEMENT | {"settled_total": "2.50", "checks_failed": 1}]}),
        answer(SETTLEMENT),
        answer(SETTLEMENT | {"status": "approved"}, 201),
        answer(SETTLEMENT | {"status": "disputed"}, 201),
        answer(SETTLEMENT | {"status": "paid"}, 201),
    )
    sid = SETTLEMENT["settlement_id"]
    commands = [
        ("settlements", "list", "--status", "needs_review", "--period-start", "2025-03-01"),
        ("settlements", "show", sid),
        ("settlements", "approve", sid, "--reason", "checked", "--idempotency-key", "a-1"),
        ("settlements", "dispute", sid, "--reason", "rate"),
        ("settlements", "mark-paid", sid, "--payment-reference", "WIRE-9"),
    ]
    # When finance lists, shows, approves, disputes and marks a settlement paid
    for argv in commands:
        code, chosen = run(client, *argv)
        # Then each command succeeds with the finance key
        assert code == 0, capsys.readouterr().err
        assert chosen[0].local_role == "finance"
    # And each calls its finance endpoint, with its filters, body and Idempotency-Key
    assert [(call.method, call.path, call.body) for call in client.calls] == [
        ("GET", "/v1/settlements", None),
        ("GET", f"/v1/settlements/{sid}", None),
        ("POST", f"/v1/settlements/{sid}/approve", {"reason": "checked"}),
        ("POST", f"/v1/settlements/{sid}/dispute", {"reason": "rate"}),
        ("POST", f"/v1/settlements/{sid}/mark-paid", {"payment_reference": "WIRE-9"}),
    ]
    assert client.calls[0].query == {
        "status": "needs_review",
        "period_start": "2025-03-01",
        "period_end": None,
    }
    assert client.calls[2].idempotency_key == "a-1"


@pytest.mark.parametrize(
    ("report_format", "body", "content_type"),
    [
        ("csv", "settlement_id,period_start\r\nstl_1,2025-03-01\r\n", "text/csv; charset=utf-8"),
        ("html", "<!DOCTYPE html><p>report</p>", "text/html; charset=utf-8"),
        ("json", SETTLEMENT, "application/json"),
    ],
)
def test_a_report_is_saved_to_a_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    report_format: str,
    body: Any,
    content_type: str,
) -> None:
    # Given an API that answers a settlement report in CSV, HTML or JSON
    client = ScriptedClient(answer(body, content_type=content_type))
    target = tmp_path / f"report.{report_format}"
    # When finance saves the report in that format to a file
    code, _ = run(
        client,
        "settlements",
        "report",
        "stl_20250301_20250301",
        "--format",
        report_format,
        "--out",
        str(target),
    )
    # Then the report was asked for in that format and the file holds it, named on stdout
    assert code == 0
    assert client.calls[0].query == {"format": report_format}
    saved = target.read_bytes().decode()
    if report_format == "json":
        assert json.loads(saved) == SETTLEMENT
    else:
        assert saved == body
    assert str(target) in capsys.readouterr().out


def test_progress_writes_a_line_per_update_when_not_on_a_terminal() -> None:
    # Given a stream that is not a terminal
    stream = io.StringIO()
    # When a settlement's progress is updated once and then finished
    with Progress("settling 2025-03-01..2025-03-01", stream=stream) as progress:
        progress.update("entries: 10 transactions")
    # Then the update and the end are each a line, the end with its time taken
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("settling 2025-03-01..2025-03-01: entries: 10 transactions (")
    assert lines[-1].startswith("settling 2025-03-01..2025-03-01: done in ")


def test_progress_ended_by_an_error_does_not_say_done() -> None:
    # Given a stream that is not a terminal
    stream = io.StringIO()
    # When a settlement's progress ends with an error
    with pytest.raises(PointsNetError), Progress("settling 2025-03-01..2025-03-01", stream=stream):
        raise PointsNetError(422, "validation_error", "bad period", "req-1")
    # Then its one line says it stopped, not that it is done
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("settling 2025-03-01..2025-03-01: stopped after ")


@pytest.mark.parametrize(
    ("period", "why"),
    [
        (("2025-03-02", "2025-03-01"), "is before --period-start"),
        (("2025-03-01", "2025-3-9"), "'2025-3-9' is not a day written YYYY-MM-DD"),
        (("2025-03-01", "20250309"), "is not a day written YYYY-MM-DD"),
        (("2024-01-01", "2025-01-01"), "a period is at most 366 days"),
        (("2999-01-01", "2999-01-01"), "is after today"),
    ],
    ids=["reversed", "unpadded", "basic-format", "too-long", "future"],
)
def test_settle_with_a_bad_period_refuses_before_saying_anything_is_done(
    capsys: pytest.CaptureFixture[str], period: tuple[str, str], why: str
) -> None:
    # Given an API that would answer a settlement
    client = ScriptedClient(answer(SETTLEMENT, 201))
    start, end = period
    # When an operator settles a period that is not one the API takes
    code, chosen = run(client, "settle", "--period-start", start, "--period-end", end)
    # Then it is a usage error, said first: no key was looked up, nothing was sent, and
    # nothing says settling started or is done
    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE_OR_CREDENTIALS
    assert why in err
    assert (chosen, client.calls, out) == ([], [], "")
    assert "settling" not in err and "done" not in err


def test_settle_of_a_period_ending_today_warns_that_it_is_provisional_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an API that settles at once, and a period from yesterday to today (UTC)
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=1)).isoformat(), today.isoformat()
    client = ScriptedClient(answer(SETTLEMENT | {"period_start": start, "period_end": end}, 201))
    # When an operator settles it
    code, _ = run(client, "settle", "--period-start", start, "--period-end", end)
    # Then it runs, after a warning, first, that the period has not ended
    _, err = capsys.readouterr()
    assert code == 0
    warning = (
        f"warning: period {start}..{end} has not ended: this settlement is provisional and a "
        "later run may produce an adjustment"
    )
    assert err.splitlines()[0] == warning
    assert "done in" in err.splitlines()[-1]
    assert client.calls[0].body == {"period_start": start, "period_end": end}


def test_settle_of_an_ended_period_gives_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an API that settles at once, and yesterday (UTC), which has ended
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    client = ScriptedClient(answer(SETTLEMENT, 201))
    # When an operator settles it
    code, _ = run(client, "settle", "--period-start", yesterday, "--period-end", yesterday)
    # Then nothing warns: the settlement is final
    assert code == 0
    assert "warning" not in capsys.readouterr().err


def test_settle_refused_by_the_api_does_not_say_done(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an API that refuses the run as invalid
    client = ScriptedClient(PointsNetError(422, "validation_error", "not valid", "req-2"))
    # When an operator settles a day
    code, _ = run(client, "settle", "--period-start", "2025-03-01", "--period-end", "2025-03-01")
    # Then the error is reported and the progress says it stopped, never that it is done
    err = capsys.readouterr().err
    assert code == cli.EXIT_API_ERROR
    assert "validation_error: not valid" in err
    assert "stopped after" in err and "done" not in err
