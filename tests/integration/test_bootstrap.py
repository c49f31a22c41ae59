"""`pointsnet bootstrap`: the first admin key of a freshly deployed stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pointsnet import cli
from pointsnet.credentials import resolve_credentials
from pointsnet.partners.models import IssuedKey
from tests.helpers import PARTNER_FUNCTION_ENV, SignedCaller

STACK_OUTPUTS = [
    "--directory-table",
    PARTNER_FUNCTION_ENV["DIRECTORY_TABLE"],
    "--key-secret-prefix",
    PARTNER_FUNCTION_ENV["KEY_SECRET_PREFIX"],
]


def test_bootstrap_saves_an_admin_key_that_the_admin_api_accepts(
    aws: None,
    admin_handler,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a deployed stack with empty tables, and no profile yet
    config_file = tmp_path / "config"
    monkeypatch.setenv("POINTSNET_CONFIG_FILE", str(config_file))
    # When the operator bootstraps with the stack's outputs
    code = cli.main(
        ["bootstrap", *STACK_OUTPUTS, "--base-url", "https://api.example.com", "--profile", "ops"]
    )
    # Then an `ops` profile holds an admin key of the network partner, and no secret is printed
    assert code == 0
    saved = resolve_credentials(profile="ops", env={}, config_file=config_file)
    assert (saved.base_url, saved.partner_id, saved.role) == (
        "https://api.example.com",
        "network",
        "admin",
    )
    assert saved.secret.get_secret_value() not in capsys.readouterr().out
    # And the admin API accepts it
    key = IssuedKey(
        key_id=saved.key_id,
        partner_id="network",
        role="admin",
        secret=saved.secret.get_secret_value(),
    )
    reply = SignedCaller(admin_handler, key).get("/v1/partners")
    assert reply.status == 200, reply.body
    assert [item["partner_id"] for item in reply.body["items"]] == ["network"]


def test_bootstrapping_again_keeps_the_partner_and_issues_another_key(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a first bootstrap without a base URL: the secret is printed, as nowhere else holds it
    assert cli.main(["bootstrap", *STACK_OUTPUTS, "-o", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["secret"].startswith("pns_")
    # When it is run again; Then a second admin key is issued for the same partner
    assert cli.main(["bootstrap", *STACK_OUTPUTS, "-o", "json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["partner_id"] == first["partner_id"] == "network"
    assert second["key_id"] != first["key_id"]


def test_bootstrap_against_a_missing_table_says_so_and_exits_1(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given moto's AWS with no directory table (the fixture)
    # When the operator bootstraps the network against a table that does not exist
    code = cli.main(
        ["bootstrap", "--directory-table", "no-such-table", "--key-secret-prefix", "x/"]
    )
    # Then the command exits 1 and says it could not bootstrap
    assert code == 1
    assert capsys.readouterr().err.startswith("error: could not bootstrap")
