"""`pointsnet policy show|set`, `capture` and `void`: policies and holds from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_cli import Harness

CURRENT = {
    "partner_id": "starlodge",
    "expiry": None,
    "tiers": [{"name": "member", "min_points": 0}, {"name": "gold", "min_points": 5000}],
    "hold_timeout_days": 30,
}


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_given_policy_show_when_run_then_it_gets_the_policy_and_summarises_it(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a program's current policy
    harness.client.answers.append(CURRENT)
    # When the operator shows it
    assert harness.run("policy", "show", "starlodge") == 0
    # Then it is fetched, with the admin key, and summarised on one line
    assert (harness.client.calls[0].method, harness.client.calls[0].path) == (
        "GET",
        "/v1/partners/starlodge/policy",
    )
    assert capsys.readouterr().out.splitlines()[-1].split() == [
        "starlodge",
        "never",
        "member:0",
        "gold:5000",
        "30",
    ]
    assert harness.options[0].local_role == "admin"


def test_given_policy_set_when_run_then_what_is_not_mentioned_stays(harness: Harness) -> None:
    # Given the current policy, and an operator setting expiry and the hold timeout only
    harness.client.answers.extend([CURRENT, CURRENT])
    # When the policy is set
    code = harness.run(
        "policy",
        "set",
        "starlodge",
        "--expiry",
        "after_earning",
        "--months",
        "24",
        "--hold-timeout-days",
        "7",
    )
    # Then the policy put keeps the tiers and changes the rest
    assert code == 0
    put = harness.client.calls[1]
    assert (put.method, put.path) == ("PUT", "/v1/partners/starlodge/policy")
    assert put.json_body == {
        "expiry": {"kind": "after_earning", "months": 24},
        "tiers": CURRENT["tiers"],
        "hold_timeout_days": 7,
    }


def test_given_tiers_or_a_file_when_set_then_they_replace_what_was_there(
    harness: Harness, tmp_path: Path
) -> None:
    # Given the current policy
    harness.client.answers.extend([CURRENT, CURRENT])
    # When new tiers are set
    # Then they replace the current tiers
    assert harness.run("policy", "set", "starlodge", "--tiers", "basic:0, silver:1000") == 0
    assert harness.client.calls[1].json_body["tiers"] == [
        {"name": "basic", "min_points": 0},
        {"name": "silver", "min_points": 1000},
    ]
    # When a policy file is set
    # Then the file is put as the whole policy
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"hold_timeout_days": 3}))
    harness.client.answers.append(CURRENT)
    assert harness.run("policy", "set", "starlodge", "--file", str(policy_file)) == 0
    assert harness.client.calls[-1].json_body == {"hold_timeout_days": 3}


def test_given_a_malformed_tier_when_set_then_it_fails_before_putting(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the current policy
    harness.client.answers.append(CURRENT)
    # When a tier without its points is set
    # Then the command fails, saying how a tier is written, before anything is read or put
    assert harness.run("policy", "set", "starlodge", "--tiers", "gold") == 1
    assert "NAME:POINTS" in capsys.readouterr().err
    assert harness.client.calls == []


def test_given_capture_and_void_when_run_then_they_resolve_the_hold(harness: Harness) -> None:
    # Given two holds
    # When one is captured in part and the other voided
    assert harness.run("capture", "txn_hold", "--points", "150", "--idempotency-key", "k1") == 0
    assert harness.run("void", "txn_other", "--reason", "cancelled") == 0
    # Then capture posts the points and the key, and void the reason, for their holds
    capture, void = harness.client.calls
    assert (capture.method, capture.path, capture.json_body, capture.idempotency_key) == (
        "POST",
        "/v1/transactions/txn_hold/capture",
        {"points": 150},
        "k1",
    )
    assert (void.path, void.json_body) == (
        "/v1/transactions/txn_other/void",
        {"reason": "cancelled"},
    )
