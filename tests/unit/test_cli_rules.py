"""`pointsnet rules set|show|preview`, `earn` by amount or action, and `refer`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_cli import POSTED, Harness

RULE_SET = {
    "program": "STAR",
    "version": 2,
    "rules": [
        {"rule_id": "base", "type": "per_amount", "points": 1, "per": "1.00"},
        {"rule_id": "dining", "type": "multiplier", "factor": "2", "category": "dining"},
    ],
}


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_given_a_yaml_file_when_rules_set_then_its_rules_are_put_with_decimals_as_strings(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a YAML file whose `per` and `factor` YAML would read as numbers
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {rule_id: base, type: per_amount, points: 1, per: 1.00}\n"
        "  - {rule_id: dining, type: multiplier, factor: '2', category: dining}\n"
    )
    harness.client.answers.append(RULE_SET)
    # When the rules are set
    assert harness.run("rules", "set", str(path), "--program", "STAR") == 0
    # Then the whole set is PUT, and the table shows each rule's figures
    (call,) = harness.client.calls
    assert (call.method, call.path) == ("PUT", "/v1/programs/STAR/earning-rules")
    assert call.json_body["rules"][1] == {
        "rule_id": "dining",
        "type": "multiplier",
        "factor": "2",
        "category": "dining",
    }
    assert isinstance(call.json_body["rules"][0]["per"], str)
    assert "factor=2 category=dining" in capsys.readouterr().out


def test_given_a_json_list_when_rules_set_then_it_is_the_set(
    harness: Harness, tmp_path: Path
) -> None:
    # Given a bare JSON list of rules
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(RULE_SET["rules"]))
    harness.client.answers.append(RULE_SET)
    # When the rules are set, Then the list is sent as the set
    assert harness.run("rules", "set", str(path), "--program", "STAR") == 0
    assert harness.client.calls[0].json_body == {"rules": RULE_SET["rules"]}


def test_given_items_when_previewing_then_each_item_is_sent_and_the_shares_shown(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's preview answer
    harness.client.answers.append(
        {
            "points": 72,
            "rules": [{"rule_id": "base", "points": 42}, {"rule_id": "dining", "points": 30}],
        }
    )
    # When a preview of 42.50 is asked with two items, one without a category
    code = harness.run(
        "rules",
        "preview",
        "guest-42",
        "--program",
        "STAR",
        "--amount",
        "42.50",
        "--item",
        "dinner,dining,1,30.00",
        "--item",
        "spa,,1,12.50",
    )
    # Then the items are sent as the contract's objects, and the total is shown
    assert code == 0
    (call,) = harness.client.calls
    assert (call.method, call.path) == ("POST", "/v1/programs/STAR/earning-rules/preview")
    assert call.json_body == {
        "member_id": "guest-42",
        "amount": "42.50",
        "items": [
            {"sku": "dinner", "category": "dining", "quantity": 1, "amount": "30.00"},
            {"sku": "spa", "quantity": 1, "amount": "12.50"},
        ],
    }
    assert capsys.readouterr().out.splitlines()[-1].split() == ["total", "72"]


def test_given_a_rule_set_when_rules_show_then_each_rule_and_its_figures_are_listed(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the program's rule set in force
    harness.client.answers.append(RULE_SET)
    # When it is shown
    assert harness.run("rules", "show", "--program", "STAR") == 0
    # Then it is read from the program's path, one line per rule with its figures
    (call,) = harness.client.calls
    assert (call.method, call.path) == ("GET", "/v1/programs/STAR/earning-rules")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["rule_id", "type", "figures"]
    assert lines[-2].split()[:4] == ["base", "per_amount", "points=1", "per=1.00"]
    assert lines[-1].split()[:4] == ["dining", "multiplier", "factor=2", "category=dining"]


def test_given_credentials_naming_a_program_when_rules_show_then_it_is_the_default(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given environment credentials whose program is STAR, and no --program
    monkeypatch.setenv("POINTSNET_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.delenv("POINTSNET_PROFILE", raising=False)
    monkeypatch.setenv("POINTSNET_BASE_URL", "https://api.example.com")
    monkeypatch.setenv("POINTSNET_KEY_ID", "pk_1")
    monkeypatch.setenv("POINTSNET_SECRET", "s3cret")
    monkeypatch.setenv("POINTSNET_PROGRAM", "STAR")
    harness.client.answers.append(RULE_SET)
    # When the rules are shown
    assert harness.run("rules", "show") == 0
    # Then the credentials' program is the one read
    assert harness.client.calls[0].path == "/v1/programs/STAR/earning-rules"


def test_given_items_when_earning_by_amount_then_the_items_carry_decimal_strings(
    harness: Harness,
) -> None:
    # Given the API's answer to an earn
    harness.client.answers.append(POSTED)
    # When an earn of 42.50 is made with two items
    code = harness.run(
        "earn",
        "guest-42",
        "--amount",
        "42.50",
        "--item",
        "dinner,dining,1,30.00",
        "--item",
        "wine,drinks,2,12.50",
        "--reference",
        "stay-2",
    )
    # Then the body carries the amount and each item, amounts as written
    assert code == 0
    assert harness.client.calls[0].json_body == {
        "amount": "42.50",
        "items": [
            {"sku": "dinner", "category": "dining", "quantity": 1, "amount": "30.00"},
            {"sku": "wine", "category": "drinks", "quantity": 2, "amount": "12.50"},
        ],
        "reference": "stay-2",
    }


def test_given_an_amount_when_earning_then_the_rules_price_it(harness: Harness) -> None:
    # Given the API's answer to an earn
    harness.client.answers.append(POSTED)
    # When an earn is made by amount, and another by action
    assert harness.run("earn", "m-1", "--amount", "9.99", "--reference", "o-1") == 0
    assert harness.run("earn", "m-1", "--action", "review", "--reference", "r-1") == 0
    # Then the bodies carry the amount and the action, and no points
    first, second = harness.client.calls
    assert first.json_body == {"amount": "9.99", "reference": "o-1"}
    assert second.json_body == {"action": "review", "reference": "r-1"}


@pytest.mark.parametrize(
    "argv",
    [
        ("earn", "m-1", "--reference", "o-1"),
        ("earn", "m-1", "10", "--amount", "9.99", "--reference", "o-1"),
        ("earn", "m-1", "--amount", "9.99", "--action", "review", "--reference", "o-1"),
        ("earn", "m-1", "--action", "review", "--item", "a,b,1,2", "--reference", "o-1"),
        ("rules", "preview", "m-1", "--program", "STAR"),
    ],
)
def test_given_not_exactly_one_earn_basis_when_run_then_it_is_a_usage_error(
    harness: Harness, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an earn or preview with no basis, two, or --item without --amount
    # When it runs
    code = harness.run(*argv)
    # Then it is a usage error saying why, before any client or request
    assert code == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "exactly one of POINTS, --amount or --action" in err or "--item goes only" in err
    assert harness.options == []
    assert harness.client.calls == []


@pytest.mark.parametrize(
    "item",
    ["latte,coffee,two,7.50", "latte,coffee,2", ",coffee,2,7.50", "latte,,0,7.50", "a,b,1,x"],
)
def test_given_a_malformed_item_when_earning_then_the_usage_error_names_it(
    harness: Harness, item: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an --item that is not SKU,CATEGORY,QTY,AMOUNT
    argv = ("earn", "m-1", "--amount", "7.50", "--item", item, "--reference", "o-1")
    # When the earn runs
    code = harness.run(*argv)
    # Then it is a usage error naming the bad --item, and nothing is called
    assert code == 2
    assert f"bad --item {item!r}" in capsys.readouterr().err
    assert harness.client.calls == []


def test_given_two_members_when_refer_then_the_referral_is_posted(harness: Harness) -> None:
    # Given the API's answer to a referral
    harness.client.answers.append(
        {"referral_id": "ref_1", "referrer_member_id": "g-1", "referred_member_id": "g-2"}
    )
    # When guest g-1 refers g-2
    assert harness.run("refer", "g-1", "g-2") == 0
    # Then it is posted for the referrer, naming the referred member
    (call,) = harness.client.calls
    assert (call.method, call.path) == ("POST", "/v1/members/g-1/referrals")
    assert call.json_body == {"referred_member_id": "g-2"}
