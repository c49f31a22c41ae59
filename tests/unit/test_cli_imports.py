"""`pointsnet import FILE` and `pointsnet earn-batch FILE`: what they send and show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pointsnet.cli.imports import progress_bar, read_earns
from pointsnet.client import PointsNetConnectionError
from tests.unit.test_cli import Harness


class Uploading(Harness):
    """A harness whose client records the upload instead of PUTting it."""

    def __init__(self) -> None:
        super().__init__()
        self.uploaded: list[tuple[str, bytes]] = []
        self.client.upload_import = self._upload  # type: ignore[method-assign]
        self.client._sleep = lambda seconds: None

    def _upload(self, imported: dict[str, Any], content: bytes) -> None:
        self.uploaded.append((imported["upload_url"], content))


@pytest.fixture
def harness() -> Harness:
    return Harness()


def an_import(status: str, **counts: int) -> dict[str, Any]:
    return {"import_id": "imp_1", "status": status, "upload_url": "https://s3/put"} | counts


def test_import_creates_uploads_starts_and_follows_the_import_to_its_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file of two rows, and the API answering the create, start and two reads
    members = tmp_path / "members.csv"
    members.write_text("member_id,points\nm-1,10\nm-2,20\n")
    harness = Uploading()
    harness.client.answers.extend(
        [
            an_import("awaiting_upload"),
            an_import("running"),
            an_import("running", rows_read=1, rows_posted=1, rows_refused=0),
            an_import("completed", rows_read=2, rows_posted=1, rows_refused=1)
            | {"result_url": "https://s3/refused.csv"},
        ]
    )
    # When the command runs with a key
    code = harness.run("import", str(members), "--idempotency-key", "join-1", "--output", "json")
    # Then it created the import under that key, uploaded the file, started and followed it
    assert code == 0
    calls = [(call.method, call.path) for call in harness.client.calls]
    assert calls == [
        ("POST", "/v1/imports"),
        ("POST", "/v1/imports/imp_1/start"),
        ("GET", "/v1/imports/imp_1"),
        ("GET", "/v1/imports/imp_1"),
    ]
    assert harness.client.calls[0].idempotency_key == "join-1"
    assert harness.uploaded == [("https://s3/put", members.read_bytes())]
    shown = capsys.readouterr()
    assert json.loads(shown.out)["rows_refused"] == 1
    assert "1/2 rows (1 posted, 0 refused)" in shown.err


def test_import_again_with_its_key_resumes_without_uploading(tmp_path: Path) -> None:
    # Given an import that failed, asked for again under its key
    members = tmp_path / "members.csv"
    members.write_text("member_id,points\nm-1,10\n")
    harness = Uploading()
    harness.client.answers.extend([an_import("failed"), an_import("completed", rows_read=1)])
    # When the command runs
    code = harness.run("import", str(members), "--idempotency-key", "join-1")
    # Then it starts it again without uploading the file a second time
    assert code == 0
    assert [call.path for call in harness.client.calls] == [
        "/v1/imports",
        "/v1/imports/imp_1/start",
    ]
    assert harness.uploaded == []


def test_the_progress_bar_counts_rows_read_of_the_file() -> None:
    # Given an import 600 rows into a file of 1,000
    imported = an_import("running", rows_read=600, rows_posted=590, rows_refused=10)
    # When its bar is drawn
    bar = progress_bar(imported, 1000)
    # Then it is 60 % full and says what the rows did
    assert bar.startswith("[" + "#" * 18 + "." * 12 + "]")
    assert bar.endswith(" 60%  600/1,000 rows (590 posted, 10 refused)")


def test_earn_batch_reads_csv_and_json_files(tmp_path: Path) -> None:
    # Given the same two earns as CSV and as JSON
    as_csv = tmp_path / "night.csv"
    as_csv.write_text("member_id,points,reference,program\nm-1,10,s-1,\nm-2,5,s-2,RIDE\n")
    as_json = tmp_path / "night.json"
    earns = [
        {"member_id": "m-1", "points": 10, "reference": "s-1"},
        {"member_id": "m-2", "points": 5, "reference": "s-2", "program": "RIDE"},
    ]
    as_json.write_text(json.dumps({"earns": earns}))
    # When each is read
    # Then both give the earns, points as numbers and empty columns left out
    assert read_earns(as_csv) == earns
    assert read_earns(as_json) == earns


def test_earn_batch_posts_the_file_and_shows_each_earn(
    tmp_path: Path, harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a batch file and the API's answer
    night = tmp_path / "night.csv"
    night.write_text("member_id,points,reference\nm-1,10,s-1\n")
    harness.client.answers.append(
        {
            "batch_id": "bat_1",
            "items": [{"index": 0, "member_id": "m-1", "reference": "s-1", "status": "replayed"}],
            "posted": 0,
            "replayed": 1,
            "refused": 0,
        }
    )
    # When the command runs
    code = harness.run("earn-batch", str(night), "--idempotency-key", "night-1")
    # Then it posted the earns under the key and shows the outcome of each
    assert code == 0
    call = harness.client.calls[0]
    assert (call.method, call.path, call.idempotency_key) == (
        "POST",
        "/v1/earn-batches",
        "night-1",
    )
    assert call.json_body == {"earns": [{"member_id": "m-1", "points": 10, "reference": "s-1"}]}
    out = capsys.readouterr().out
    assert "replayed" in out and "0 posted, 1 replayed, 0 refused" in out


def test_earn_batch_refuses_a_file_it_cannot_read(tmp_path: Path, harness: Harness) -> None:
    # Given a CSV whose points are not whole
    night = tmp_path / "night.csv"
    night.write_text("member_id,points,reference\nm-1,1.5,s-1\n")
    # When the command runs
    code = harness.run("earn-batch", str(night))
    # Then it fails before calling the API
    assert code != 0
    assert harness.client.calls == []


def test_following_an_import_reads_it_again_after_a_read_that_timed_out(tmp_path: Path) -> None:
    # Given a running import whose first read times out
    members = tmp_path / "members.csv"
    members.write_text("member_id,points\nm-1,10\n")
    harness = Uploading()
    harness.client.answers.extend(
        [
            an_import("awaiting_upload"),
            an_import("running"),
            PointsNetConnectionError("GET /v1/imports/imp_1 failed: timed out"),
            an_import("completed", rows_read=1, rows_posted=1, rows_refused=0),
        ]
    )
    # When the command follows it
    code = harness.run("import", str(members))
    # Then it reads the import again and ends with it completed
    assert code == 0
    assert [call.method for call in harness.client.calls] == ["POST", "POST", "GET", "GET"]


@pytest.mark.parametrize("wait", ["0", "-5", "soon"])
def test_import_with_a_wait_that_is_no_time_refuses_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], harness: Harness, wait: str
) -> None:
    # Given a members file
    members = tmp_path / "members.csv"
    members.write_text("member_id,points\nm-1,10\n", encoding="utf-8")
    # When it is imported with a --wait that is not a time to wait
    code = harness.run("import", str(members), "--wait", wait)
    # Then it is a usage error: nothing is sent, and no progress says it is importing
    err = capsys.readouterr().err
    assert code == 2
    assert "is not a number of seconds above 0" in err
    assert harness.client.calls == [] and "importing" not in err
