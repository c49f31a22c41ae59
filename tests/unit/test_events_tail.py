"""`pointsnet events tail`: the local event log, printed as a person or a program reads it.

The log holds one EventBridge event per line, as a rule's target receives it, whose detail is
the network event (pointsnet.events.models) that was published.
"""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pointsnet import cli
from pointsnet.cli.local import _format, tail_events
from pointsnet.events.models import (
    SOURCE,
    BalanceData,
    MemberTierChanged,
    MemberTierChangedData,
    NetworkEvent,
    PointsEarned,
    PointsEarnedData,
    PointsExpired,
    PointsExpiredData,
    PointsExpiring,
    PointsExpiringData,
    SettlementReady,
    SettlementReadyData,
    event_id,
)

OCCURRED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def on_the_bus(event: NetworkEvent, number: int) -> dict[str, Any]:
    """The EventBridge event a rule's target receives for a published network event."""
    return {
        "version": "0",
        "id": f"00000000-0000-0000-0000-{number:012d}",
        "detail-type": event.type,
        "source": SOURCE,
        "account": "123456789012",
        "time": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": event.model_dump(mode="json"),
    }


def earned(number: int, member: str = "m-1", points: int = 100) -> dict[str, Any]:
    transaction = f"txn_{number}"
    return on_the_bus(
        PointsEarned(
            id=event_id("points.earned", transaction),
            occurred_at=OCCURRED.replace(minute=number),
            partner_id="starlodge",
            data=PointsEarnedData(
                transaction_id=transaction,
                transaction_type="earn",
                program="STAR",
                member_id=member,
                points=points,
                reference=f"order-{number}",
                initiated_by="starlodge",
                balance=BalanceData(available=points * number, pending=0),
            ),
        ),
        number,
    )


def expiring(number: int) -> dict[str, Any]:
    return on_the_bus(
        PointsExpiring(
            id=event_id("points.expiring", str(number)),
            occurred_at=OCCURRED.replace(minute=number),
            partner_id="starlodge",
            data=PointsExpiringData(
                program="STAR",
                member_id="m-2",
                points=40,
                expires_at=datetime(2027, 1, 1, tzinfo=UTC),
                reason="lot",
                lot="2027-01-01",
            ),
        ),
        number,
    )


def expired(number: int) -> dict[str, Any]:
    return on_the_bus(
        PointsExpired(
            id=event_id("points.expired", str(number)),
            occurred_at=OCCURRED.replace(minute=number),
            partner_id="rideco",
            data=PointsExpiredData(
                transaction_id=f"txn_exp_{number}",
                program="RIDE",
                member_id="m-3",
                points=25,
                reason="inactivity",
                balance=BalanceData(available=0, pending=0),
            ),
        ),
        number,
    )


def tier_changed(number: int) -> dict[str, Any]:
    return on_the_bus(
        MemberTierChanged(
            id=event_id("member.tier_changed", str(number)),
            occurred_at=OCCURRED.replace(minute=number),
            partner_id="starlodge",
            data=MemberTierChangedData(
                program="STAR",
                member_id="m-1",
                from_tier="silver",
                to_tier="gold",
                direction="up",
                points_earned=5000,
                window_start=date(2025, 12, 1),
            ),
        ),
        number,
    )


def settlement_ready(number: int) -> dict[str, Any]:
    return on_the_bus(
        SettlementReady(
            id=event_id("settlement.ready", str(number)),
            occurred_at=OCCURRED.replace(minute=number),
            partner_id="rideco",
            data=SettlementReadyData(
                settlement_id="stl_1",
                period_start=date(2026, 11, 30),
                period_end=date(2026, 11, 30),
                currency="EUR",
                status="ready",
                amount=Decimal("-12.50"),
            ),
        ),
        number,
    )


def log_line(event: dict[str, Any]) -> str:
    """A line as the local event log writes it."""
    return json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n"


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Given an event log with ten events of five types, oldest first."""
    events = [
        earned(1),
        expiring(2),
        tier_changed(3),
        earned(4, member="m-9"),
        expired(5),
        settlement_ready(6),
        earned(7),
        expiring(8),
        expired(9),
        earned(10),
    ]
    path = tmp_path / ".pointsnet" / "events.jsonl"
    path.parent.mkdir()
    path.write_text("".join(log_line(event) for event in events), encoding="utf-8")
    return path


def tail(path: Path, **options: Any) -> tuple[int, list[str]]:
    out = io.StringIO()
    arguments: dict[str, Any] = {"types": [], "lines": 20, "follow": False} | options
    printed = tail_events(path, out, **arguments)
    return printed, out.getvalue().splitlines()


def kinds(lines: list[str]) -> list[str]:
    return [line.split()[2] for line in lines]


def test_tail_prints_the_last_n_events_oldest_first(log: Path) -> None:
    # Given the log of ten events
    # When its last three are asked for
    printed, lines = tail(log, lines=3)

    # Then the 8th, 9th and 10th are printed, one line each, oldest first
    assert printed == 3
    assert [line[:16] for line in lines] == [
        "2026-12-01 10:08",
        "2026-12-01 10:09",
        "2026-12-01 10:10",
    ]
    assert kinds(lines) == ["points.expiring", "points.expired", "points.earned"]


def test_tail_prints_everything_when_n_exceeds_the_log_and_nothing_for_zero(log: Path) -> None:
    # Given the log of ten events
    # When more lines than it holds, or none, are asked for
    # Then all ten, or none, are printed
    assert tail(log, lines=50)[0] == 10
    assert tail(log, lines=0) == (0, [])


def test_each_type_reads_as_a_line_with_its_gist(log: Path) -> None:
    # Given the log
    # When it is tailed
    _, lines = tail(log)

    # Then each line says when, what, for whom and the gist of its data
    assert lines[0] == (
        "2026-12-01 10:01:00  points.earned         starlodge     "
        "m-1  +100 STAR  ref order-1  txn_1  (available 100, pending 0)"
    )
    assert lines[1] == (
        "2026-12-01 10:02:00  points.expiring       starlodge     "
        "m-2  40 STAR expire at 2027-01-01T00:00:00.000000Z"
    )
    assert lines[2] == (
        "2026-12-01 10:03:00  member.tier_changed   starlodge     m-1  STAR tier silver -> gold"
    )
    assert lines[4] == (
        "2026-12-01 10:05:00  points.expired        rideco        "
        "m-3  -25 RIDE expired  txn_exp_5  (available 0, pending 0)"
    )
    assert lines[5] == (
        "2026-12-01 10:06:00  settlement.ready      rideco        "
        "stl_1  2026-11-30..2026-11-30  ready  -12.50 EUR"
    )


def test_an_event_of_an_unknown_type_prints_its_data_as_json() -> None:
    # Given an event of a type the formatter does not know, and one with no detail at all
    event = {"detail-type": "points.teleported", "detail": {"data": {"to": "mars"}}}

    # When each is formatted
    # Then the gist is the data as JSON, and the bare event still gives a line
    assert _format(event, as_json=False).endswith(
        'points.teleported                   {"to": "mars"}'
    )
    assert _format({"time": "2026-12-01T10:00:00Z"}, as_json=False).startswith(
        "2026-12-01 10:00:00  ?"
    )


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["points.earned"], ["points.earned"] * 4),
        (
            ["points.*"],
            [
                "points.earned",
                "points.expiring",
                "points.earned",
                "points.expired",
                "points.earned",
                "points.expiring",
                "points.expired",
                "points.earned",
            ],
        ),
        (["settlement.ready", "member.*"], ["member.tier_changed", "settlement.ready"]),
        (["points"], []),
    ],
)
def test_type_filters_match_whole_types_or_families(
    log: Path, types: list[str], expected: list[str]
) -> None:
    # Given the log
    # When it is tailed for some types
    _, lines = tail(log, types=types)

    # Then only events of those types are printed
    assert kinds(lines) == expected


def test_the_last_n_are_counted_after_filtering(log: Path) -> None:
    # Given the log, of which four events are points.earned
    # When the last two points.earned are asked for
    _, lines = tail(log, types=["points.earned"], lines=2)

    # Then they are the 7th and 10th events
    assert [line[:16] for line in lines] == ["2026-12-01 10:07", "2026-12-01 10:10"]


def test_as_json_prints_each_event_whole_on_one_line(log: Path) -> None:
    # Given the log
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]

    # When it is tailed as JSON
    _, lines = tail(log, lines=2, as_json=True)

    # Then each line is the EventBridge event as logged
    assert [json.loads(line) for line in lines] == events[-2:]
    assert lines[0] == json.dumps(events[-2], sort_keys=True)


def test_a_half_written_last_line_waits_until_it_is_complete(log: Path) -> None:
    # Given a last line still being written
    line = log_line(earned(11, member="m-late"))
    append(log, line[:40])

    # When the log is tailed
    printed, lines = tail(log, lines=50)

    # Then the partial line is not printed, nor is it an error
    assert printed == 10
    assert "m-late" not in "\n".join(lines)

    # When the line is finished
    append(log, line[40:])

    # Then it is printed whole
    printed, lines = tail(log, lines=1)
    assert printed == 1
    assert "m-late" in lines[0]


def test_a_line_that_is_not_json_is_skipped(log: Path) -> None:
    # Given a garbled line between events
    append(log, "this is not an event\n")
    append(log, log_line(earned(11, member="m-after")))

    # When the log is tailed
    printed, lines = tail(log, lines=50)

    # Then the events either side are printed, and the garbled line is not
    assert printed == 11
    assert "m-after" in lines[-1]


def test_follow_prints_events_appended_after_it_started(log: Path) -> None:
    # Given a tail following the log, having printed its last event
    out = io.StringIO()
    result: list[int] = []
    follower = threading.Thread(
        target=lambda: result.append(
            tail_events(log, out, types=["points.*"], lines=1, follow=True, stop_after=1.5)
        )
    )
    follower.start()
    time.sleep(0.3)

    # When an event is appended, another type that is filtered out, and one in two writes
    append(log, log_line(earned(20, member="m-new")))
    append(log, log_line(settlement_ready(21)))
    late = log_line(expired(22))
    append(log, late[:30])
    time.sleep(0.5)
    append(log, late[30:])
    follower.join(timeout=5)

    # Then it printed the last old event, then the new ones it wants, each once and whole
    assert not follower.is_alive()
    lines = out.getvalue().splitlines()
    assert kinds(lines) == ["points.earned", "points.earned", "points.expired"]
    assert "m-new" in lines[1]
    assert "txn_exp_22" in lines[2]
    assert result == [3]


def test_follow_waits_for_a_log_that_does_not_exist_yet(tmp_path: Path) -> None:
    # Given no log yet
    path = tmp_path / "events.jsonl"
    out = io.StringIO()
    follower = threading.Thread(
        target=tail_events,
        args=(path, out),
        kwargs={"types": [], "lines": 20, "follow": True, "stop_after": 1.0},
    )
    follower.start()
    time.sleep(0.3)

    # When the network starts and publishes an event
    path.write_text(log_line(earned(1)), encoding="utf-8")
    follower.join(timeout=5)

    # Then the follower prints it
    assert not follower.is_alive()
    assert kinds(out.getvalue().splitlines()) == ["points.earned"]


def test_without_follow_a_missing_log_is_an_error(tmp_path: Path) -> None:
    # Given no log
    # When it is tailed
    # Then the command fails, saying no network has published yet
    with pytest.raises(cli.CommandFailed, match="does not exist"):
        tail(tmp_path / "events.jsonl")


def test_events_tail_prints_the_last_n_events_and_exits_0(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the log
    # When `pointsnet events tail --file <log> -n 5` runs
    code = cli.main(["events", "tail", "--file", str(log), "-n", "5"])

    # Then it prints the last five events and exits 0
    assert code == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert kinds(lines) == [
        "settlement.ready",
        "points.earned",
        "points.expiring",
        "points.expired",
        "points.earned",
    ]


def test_the_cli_prints_json_and_filters_by_type(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the log
    # When `pointsnet events tail` runs with --output json and --type
    code = cli.main(
        ["events", "tail", "--file", str(log), "--type", "points.expired", "--output", "json"]
    )

    # Then it prints the matching events as JSON lines
    assert code == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["detail"]["data"]["transaction_id"] for line in lines] == [
        "txn_exp_5",
        "txn_exp_9",
    ]


def test_the_cli_reports_a_missing_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given no log
    # When `pointsnet events tail --file <missing>` runs
    code = cli.main(["events", "tail", "--file", str(tmp_path / "events.jsonl")])

    # Then it fails with a message, not a traceback
    assert code == cli.EXIT_API_ERROR
    assert "does not exist" in capsys.readouterr().err
