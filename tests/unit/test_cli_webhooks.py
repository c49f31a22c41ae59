"""`pointsnet webhooks …` and `pointsnet statements`: what they send and show."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_cli import Harness

WEBHOOK = {
    "webhook_id": "wh_1",
    "url": "https://partner.example/hooks",
    "events": ["points.earned", "settlement.ready"],
    "created_at": "2026-12-01T09:00:00.000000Z",
    "updated_at": "2026-12-01T09:00:00.000000Z",
    "secret_rotated_at": "2026-12-01T09:00:00.000000Z",
}


def test_webhooks_set_sends_the_url_and_types_and_prints_the_new_secret_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the API creating the webhook with its secret
    harness = Harness()
    harness.client.answers.append(WEBHOOK | {"secret": "whsec_new"})
    # When the command sets a URL for two types
    code = harness.run(
        "webhooks", "set", "https://partner.example/hooks", "points.earned", "settlement.ready"
    )
    # Then it PUT them, without a rotation, and printed the secret with a warning to keep it
    assert code == 0
    (call,) = harness.client.calls
    assert (call.method, call.path) == ("PUT", "/v1/webhooks")
    assert call.json_body == {
        "url": "https://partner.example/hooks",
        "events": ["points.earned", "settlement.ready"],
        "rotate_secret": False,
    }
    out = capsys.readouterr().out
    assert "whsec_new" in out and "not shown again" in out


def test_webhooks_set_refuses_an_unknown_type_before_calling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a harness; When the command names a type the network does not publish
    harness = Harness()
    code = harness.run("webhooks", "set", "https://partner.example/hooks", "points.nope")
    # Then it stops with a usage error, having called nothing
    assert code == 2
    assert harness.client.calls == []
    assert "points.nope" in capsys.readouterr().err


def test_webhooks_rotate_secret_keeps_the_url_and_types(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the API answering the webhook, then its rotation
    harness = Harness()
    harness.client.answers.extend([WEBHOOK, WEBHOOK | {"secret": "whsec_rotated"}])
    # When the secret is rotated
    code = harness.run("webhooks", "rotate-secret")
    # Then it read the webhook and PUT the same URL and types with rotate_secret
    assert code == 0
    read, rotated = harness.client.calls
    assert (read.method, rotated.method) == ("GET", "PUT")
    assert rotated.json_body == {
        "url": WEBHOOK["url"],
        "events": WEBHOOK["events"],
        "rotate_secret": True,
    }
    assert "whsec_rotated" in capsys.readouterr().out


def test_webhooks_show_lists_the_deliveries(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a webhook with one delivery retrying
    harness = Harness()
    delivery = {
        "event_id": "evt_1",
        "event_type": "points.earned",
        "status": "retrying",
        "attempts": 3,
        "first_attempt_at": "2026-12-01T09:00:00.000000Z",
        "last_attempt_at": "2026-12-01T09:07:00.000000Z",
        "response_status": 503,
    }
    harness.client.answers.append(WEBHOOK | {"deliveries": [delivery]})
    # When it is shown
    assert harness.run("webhooks", "show") == 0
    # Then the delivery's event, status, attempts and answer are in the table
    out = capsys.readouterr().out
    for shown in ("evt_1", "retrying", "3", "503", "https://partner.example/hooks"):
        assert shown in out


def test_statements_ask_for_the_period_and_show_each_line_with_the_net_position(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the API answering one statement with one line
    harness = Harness()
    statement = {
        "settlement_id": "stl_20261101_20261130",
        "status": "approved",
        "currency": "USD",
        "net_position": "-2.51",
        "lines": [
            {
                "direction": "pays",
                "counterparty": "starlodge",
                "program": "STAR",
                "points": 1004,
                "amount": "2.51",
                "obligations": 3,
            }
        ],
        "counterparties": [{"partner_id": "starlodge", "name": "Star Lodge Hotels"}],
    }
    harness.client.answers.append({"items": [statement]})
    # When the statements of November are asked for
    assert harness.run("statements", "2026-11-01", "2026-11-30") == 0
    # Then the period was sent, and the line shows its side, the named counterparty and money
    (call,) = harness.client.calls
    assert (call.path, call.query) == (
        "/v1/statements",
        {"period_start": "2026-11-01", "period_end": "2026-11-30"},
    )
    out = capsys.readouterr().out
    for shown in ("pays", "Star Lodge Hotels (starlodge)", "2.51 USD", "-2.51 USD"):
        assert shown in out


def test_statements_refuse_a_backwards_period_before_calling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a harness; When the end is before the start
    harness = Harness()
    code = harness.run("statements", "2026-11-30", "2026-11-01", "--output", "json")
    # Then it fails saying why, having called nothing
    assert code != 0
    assert harness.client.calls == []
    assert "before" in capsys.readouterr().err


def test_statements_json_is_the_apis_items(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the API answering no statements; When asked for JSON
    harness = Harness()
    harness.client.answers.append({"items": []})
    assert harness.run("statements", "2026-11-01", "--output", "json") == 0
    # Then the output is the API's items, and a missing END is START
    assert json.loads(capsys.readouterr().out) == []
    assert harness.client.calls[0].query == {
        "period_start": "2026-11-01",
        "period_end": "2026-11-01",
    }
