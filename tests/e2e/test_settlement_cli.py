"""Settling over HTTP: `pointsnet settle` and `pointsnet settlements` against the local API."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pointsnet import cli
from pointsnet.cli import GlobalOptions
from pointsnet.client import PointsNetClient
from pointsnet.local.runtime import LocalNetwork


def keyed_by_role(local: LocalNetwork) -> Callable[[GlobalOptions], PointsNetClient]:
    """The demo network's key for the role each command asks for."""

    def factory(options: GlobalOptions) -> PointsNetClient:
        role = options.role or options.local_role or "partner"
        partner = options.partner or ("network" if role in ("finance", "admin") else "starlodge")
        return local.client(partner, role)

    return factory


def test_finance_settles_reviews_approves_and_pays_a_day_from_the_command_line(
    local: LocalNetwork,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a cross-partner earn today
    starlodge, rideco = local.client("starlodge"), local.client("rideco")
    rider, guest = f"rider-{uuid.uuid4().hex[:8]}", f"guest-{uuid.uuid4().hex[:8]}"
    starlodge.confirm_link(rideco.propose_link(rider, "STAR", guest)["link_id"])
    rideco.earn(rider, 400, "ride-settle", program="STAR")
    today = datetime.now(UTC).date().isoformat()
    factory = keyed_by_role(local)
    monkeypatch.chdir(tmp_path)
    # When an operator settles today from the command line
    code = cli.main(
        ["-o", "json", "settle", "--period-start", today, "--period-end", today],
        client_factory=factory,
    )
    out, err = capsys.readouterr()
    # Then the settlement comes back, and the progress display said when it was done
    assert code == 0, err
    settlement = json.loads(out)
    assert settlement["period_start"] == today and "done in" in err
    assert sum(Decimal(item["amount"]) for item in settlement["net_positions"]) == 0
    owed = [line for line in settlement["lines"] if line["payer"] == "rideco"]
    assert owed and all(line["payee"] == "starlodge" for line in owed)
    settlement_id = settlement["settlement_id"]
    # When finance lists, shows and saves the CSV report
    assert cli.main(["settlements", "list"], client_factory=factory) == 0
    assert settlement_id in capsys.readouterr().out
    assert cli.main(["settlements", "show", settlement_id], client_factory=factory) == 0
    shown = capsys.readouterr().out
    assert "net positions (USD, + receives)" in shown and "rideco" in shown
    assert (
        cli.main(
            ["settlements", "report", settlement_id, "--format", "csv"], client_factory=factory
        )
        == 0
    )
    capsys.readouterr()
    with (tmp_path / f"{settlement_id}.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kinds = [row["row"] for row in rows]
    assert kinds[: len(settlement["lines"]) + 1] == ["line"] * len(settlement["lines"]) + [
        "rounding_residual"
    ]
    assert {"gross", "bilateral", "net_position", "net_cash"} <= set(kinds)
    # (the session's network has other partners' activity of the day too: each line its payee)
    names = {"starlodge": "StarLodge Hotels", "rideco": "RideCo"}
    assert [row["payee_name"] for row in rows if row["row"] == "line"] == [
        names[line["payee"]] for line in settlement["lines"]
    ]
    # And approves it, and records its payment
    if settlement["status"] == "draft":
        assert cli.main(["settlements", "approve", settlement_id], client_factory=factory) == 0
        capsys.readouterr()
        paid = cli.main(
            [
                "-o",
                "json",
                "settlements",
                "mark-paid",
                settlement_id,
                "--payment-reference",
                "WIRE-1",
            ],
            client_factory=factory,
        )
        assert paid == 0
        assert json.loads(capsys.readouterr().out)["status"] == "paid"
    # And a partner key is refused the finance commands
    refused = cli.main(
        ["settlements", "list", "--role", "partner", "--partner", "rideco"], client_factory=factory
    )
    assert refused == cli.EXIT_API_ERROR
    assert "forbidden" in capsys.readouterr().err
