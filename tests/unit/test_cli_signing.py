"""`pointsnet partners signing`: an operator makes a partner v2-only from the command line."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_cli import Harness

PARTNER = {
    "partner_id": "beancafe",
    "name": "Bean Cafe",
    "program": "BEAN",
    "point_value": "0.004",
    "currency": "USD",
    "created_at": "2026-01-01T00:00:00.000000Z",
    "signing": {"minimum_version": 2},
}


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_partners_signing_puts_the_minimum_version_with_an_admin_key(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API answers the partner with its new signing minimum
    harness.client.answers.append(PARTNER)
    # When the operator makes beancafe v2-only
    code = harness.run("partners", "signing", "beancafe", "--minimum-version", "2")
    # Then it PUTs the strict integer to the partner's signing, with the admin key
    assert code == 0
    (call,) = harness.client.calls
    assert (call.method, call.path, call.json_body) == (
        "PUT",
        "/v1/partners/beancafe/signing",
        {"minimum_version": 2},
    )
    assert harness.options[0].local_role == "admin"
    # And prints the partner with its signing minimum
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["partner_id", "name", "minimum_signature_version"]
    assert out[2].split() == ["beancafe", "Bean", "Cafe", "2"]


def test_partners_signing_prints_the_api_json_when_asked(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API answers the partner with its new signing minimum
    harness.client.answers.append(PARTNER)
    # When the operator asks for JSON output; Then it succeeds and prints the API's JSON as is
    assert (
        harness.run("partners", "signing", "beancafe", "--minimum-version", "2", "-o", "json") == 0
    )
    assert json.loads(capsys.readouterr().out) == PARTNER


@pytest.mark.parametrize("value", ["3", "0", "two"])
def test_partners_signing_takes_only_1_or_2(
    harness: Harness, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a version the contract does not have
    # When the operator sets it; Then the CLI refuses it with a usage error and calls nothing
    assert harness.run("partners", "signing", "beancafe", "--minimum-version", value) == 2
    assert "--minimum-version" in capsys.readouterr().err
    assert harness.client.calls == []
