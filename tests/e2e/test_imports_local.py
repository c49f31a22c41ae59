"""The local network imports from a file as AWS would: `pointsnet import` creates the import,
PUTs the file to the emulator's S3 through the pre-signed link, and the import state machine's
Distributed Map, driven by the local runtime, posts the rows through the import function."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from pointsnet import cli
from pointsnet.local.runtime import local_network


def test_pointsnet_import_posts_a_file_and_earn_batch_a_night_of_earns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local network and a partner's file of 250 members, one of them twice
    credentials = tmp_path / ".pointsnet" / "local.json"
    members = tmp_path / "members.csv"
    members.write_text(
        "member_id,points,reference\n"
        + "".join(f"guest-{n},{n + 1},crm-{n}\n" for n in range(250))
        + "guest-7,99,crm-again\n"
    )
    night = tmp_path / "night.csv"
    night.write_text("member_id,points,reference\nguest-1,10,stay-1\nguest-2,20,stay-2\n")
    with local_network(port=0, workers=2, credentials_path=credentials) as network:
        monkeypatch.chdir(tmp_path)

        # When starlodge imports it with the CLI, then posts a night's earns, twice
        capsys.readouterr()
        imported_code = cli.main(["import", str(members), "--output", "json"])
        imported = json.loads(capsys.readouterr().out)
        batch_code = cli.main(["earn-batch", str(night), "--output", "json"])
        first = json.loads(capsys.readouterr().out)
        again_code = cli.main(["earn-batch", str(night), "--output", "json"])
        again = json.loads(capsys.readouterr().out)

        # Then every good row posted once, and the refused one is in the result file
        assert (imported_code, batch_code, again_code) == (0, 0, 0)
        assert imported["status"] == "completed", imported
        assert (imported["rows_read"], imported["rows_posted"], imported["rows_refused"]) == (
            251,
            250,
            1,
        )
        with urllib.request.urlopen(imported["result_url"]) as answer:
            refused = answer.read().decode().splitlines()
        assert refused[0] == "line,member_id,reference,code,message"
        assert refused[1].startswith("252,guest-7,crm-again,conflict,")
        client = network.client("starlodge")
        assert client.get_member("guest-249")["balance"]["available"] == 250
        # And the batch posted both earns once: the second run answers them replayed
        assert [item["status"] for item in first["items"]] == ["posted", "posted"]
        assert [item["status"] for item in again["items"]] == ["replayed", "replayed"]
        assert client.get_member("guest-1")["balance"]["available"] == 2 + 10
