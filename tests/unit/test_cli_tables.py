"""What the CLI's tables show: signed points, the member on every balance line, points
expiring, when a link was confirmed; `--output json` keeps the API's answer as it is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pointsnet.client import member_points
from tests.unit.test_cli import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness()


def transaction(kind: str, points: int, *moves: tuple[str, int], **extra: Any) -> dict[str, Any]:
    """A transaction of guest-1 at starlodge as the API answers it, postings included."""
    return {
        "transaction_id": f"txn_{kind}",
        "type": kind,
        "program": "STAR",
        "points": points,
        "partner_id": "starlodge",
        "member_id": "guest-1",
        "reference": f"ref-{kind}",
        "status": "posted",
        "created_at": "2026-01-02T00:00:00.000000Z",
        "postings": [{"account": account, "points": moved} for account, moved in moves],
    } | extra


MEMBER, PENDING = "member:starlodge:guest-1", "pending:starlodge:guest-1"
HISTORY = [
    transaction("earn", 100, ("program:STAR:issued", -100), (MEMBER, 100)),
    transaction("burn", 30, (MEMBER, -30), ("program:STAR:redeemed", 30)),
    transaction("expiry", 5, (MEMBER, -5), ("program:STAR:expired", 5)),
    transaction("exchange", 40, (MEMBER, -40), ("program:STAR:exchange", 40)),
    transaction("reversal", 20, ("program:STAR:issued", 20), (MEMBER, -20), reverses="txn_earn"),
    transaction("reversal", 10, (MEMBER, 10), ("program:STAR:redeemed", -10), reverses="txn_burn"),
    transaction("hold", 50, ("program:STAR:issued", -50), (PENDING, 50), status="pending"),
    transaction("capture", 40, (PENDING, -50), (MEMBER, 40), ("program:STAR:issued", 10)),
    transaction("void", 7, (PENDING, -7), ("program:STAR:issued", 7)),
]


def test_given_each_kind_of_transaction_when_signed_then_debits_are_negative() -> None:
    # Given an earn, a burn, an expiry, an exchange's debit leg, the reversals of an earn and
    # of a burn, a hold, its capture (10 released) and a void, with their postings
    # When each is signed for its member
    signed = [member_points(item) for item in HISTORY]
    # Then the debits are negative and the credits positive, as the member's account moved
    assert signed == [100, -30, -5, -40, -20, 10, 50, 40, -7]


def test_given_no_postings_when_signed_then_the_type_decides() -> None:
    # Given transactions answered without their postings
    bare = [{"type": kind, "points": 25} for kind in ("earn", "burn", "expiry", "import")]
    # When each is signed
    # Then a burn and an expiry debit, the rest credit
    assert [member_points(item) for item in bare] == [25, -25, -25, 25]


def test_given_a_history_when_shown_as_a_table_then_points_are_signed(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a member's history of every kind of transaction
    harness.client.answers.append({"items": HISTORY, "next_cursor": None})
    # When history is shown as a table
    assert harness.run("history", "guest-1") == 0
    # Then each line's points carry their sign, right-aligned: + credited, - debited
    lines = capsys.readouterr().out.splitlines()
    points_at = lines[0].index("points") + len("points")
    column = [line[points_at - 6 : points_at].strip() for line in lines[2:]]
    assert column == ["+100", "-30", "-5", "-40", "-20", "+10", "+50", "+40", "-7"]


def test_given_a_history_as_json_when_shown_then_the_api_points_are_kept(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same history
    harness.client.answers.append({"items": HISTORY, "next_cursor": None})
    # When it is shown as JSON
    assert harness.run("history", "guest-1", "-o", "json") == 0
    # Then it is the API's answer, points unsigned as the API gives them
    assert json.loads(capsys.readouterr().out) == {"items": HISTORY, "next_cursor": None}


def test_given_a_burn_when_posted_then_its_line_names_the_member_and_a_negative_amount(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's answer to a burn of 30
    harness.client.answers.append(
        {"transaction": HISTORY[1], "balance": {"program": "STAR", "available": 70, "pending": 0}}
    )
    # When the burn runs
    assert harness.run("burn", "guest-1", "30", "--reference", "ref-burn") == 0
    # Then the line names the member, the burn is -30 and the balance after it is 70
    header, _, row = capsys.readouterr().out.splitlines()
    cells = dict(zip(header.split(), row.split(), strict=True))
    assert (cells["member_id"], cells["points"], cells["available"]) == ("guest-1", "-30", "70")


MEMBER_VIEW = {
    "member_id": "guest-1",
    "program": "STAR",
    "balance": {"program": "STAR", "available": 150, "pending": 50},
    "expiring": [
        {"points": 100, "expires_at": "2027-02-01T00:00:00.000000Z"},
        {"points": 50, "expires_at": "2027-03-01T00:00:00.000000Z"},
    ],
    "links": [],
}


def test_given_points_expiring_when_balance_runs_then_each_date_is_a_line_naming_the_member(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a member with points expiring on two dates
    harness.client.answers.append(MEMBER_VIEW)
    # When their balance is shown
    assert harness.run("balance", "guest-1") == 0
    # Then the balance and the first date share a line, the second date has its own, and
    # every line names the member and the program
    assert capsys.readouterr().out.splitlines() == [
        "member_id  program  available  pending  expiring",
        "---------  -------  ---------  -------  -----------------",
        "guest-1    STAR           150       50  100 on 2027-02-01",
        "guest-1    STAR                         50 on 2027-03-01",
    ]


def test_given_nothing_expiring_when_balance_runs_then_there_is_no_expiring_column(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a member whose points never expire
    harness.client.answers.append(MEMBER_VIEW | {"expiring": []})
    # When their balance is shown
    assert harness.run("balance", "guest-1") == 0
    # Then one line shows it, naming the member, with no expiring column
    assert capsys.readouterr().out.splitlines() == [
        "member_id  program  available  pending",
        "---------  -------  ---------  -------",
        "guest-1    STAR           150       50",
    ]


LINK: dict[str, Any] = {
    "link_id": "lnk_" + "a" * 26,
    "status": "active",
    "proposer": {"partner_id": "rideco", "program": "RIDE", "member_id": "rider-7"},
    "counterparty": {"partner_id": "starlodge", "program": "STAR", "member_id": "guest-1"},
    "created_at": "2026-01-02T10:00:00.000000Z",
    "expires_at": "2026-01-09T10:00:00.000000Z",
    "confirmed_at": "2026-01-02T10:05:00.000000Z",
    "revoked_at": None,
    "revoked_by": None,
}


def test_given_an_active_link_when_shown_then_it_says_when_it_was_confirmed(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an active link, confirmed five minutes after it was proposed
    harness.client.answers.append(LINK)
    # When it is shown
    assert harness.run("link", "show", LINK["link_id"]) == 0
    # Then its line has the confirmation time, and no lapse time: a confirmed link has none
    header, _, row = capsys.readouterr().out.splitlines()
    assert header.split()[-2:] == ["expires_at", "confirmed_at"]
    assert row.split() == [
        LINK["link_id"],
        "active",
        "rider-7",
        "RIDE",
        "guest-1",
        "STAR",
        "2026-01-02T10:05:00.000000Z",
    ]
    assert row.index("2026-01-02T10:05") == header.index("confirmed_at")


def test_given_a_members_links_when_listed_then_each_line_names_the_member_and_its_confirmation(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a member with two active links, one confirmed before the network recorded when
    linked = [
        {
            "link_id": LINK["link_id"],
            "partner_id": "rideco",
            "program": "RIDE",
            "member_id": "rider-7",
            "confirmed_at": "2026-01-02T10:05:00.000000Z",
        },
        {
            "link_id": "lnk_" + "b" * 26,
            "partner_id": "beancafe",
            "program": "BEAN",
            "member_id": "b-9",
        },
    ]
    harness.client.answers.append(MEMBER_VIEW | {"links": linked})
    # When the member's links are listed
    assert harness.run("link", "list", "guest-1") == 0
    # Then the member is read, and each link is a line naming the member, the other side and
    # when it was confirmed (blank when unknown)
    assert harness.client.calls[0].path == "/v1/members/guest-1"
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == [
        "member_id",
        "link_id",
        "partner_id",
        "program",
        "partner_member_id",
        "confirmed_at",
    ]
    assert lines[2:] == [
        ["guest-1", LINK["link_id"], "rideco", "RIDE", "rider-7", "2026-01-02T10:05:00.000000Z"],
        ["guest-1", "lnk_" + "b" * 26, "beancafe", "BEAN", "b-9"],
    ]


def test_given_a_pending_link_when_proposed_then_it_shows_when_it_lapses(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's answer to a proposal: pending, unconfirmed
    harness.client.answers.append(LINK | {"status": "pending", "confirmed_at": None})
    # When the proposal runs
    assert harness.run("link", "propose", "rider-7", "STAR", "guest-1") == 0
    # Then its line shows when it lapses unless confirmed, and no confirmation
    row = capsys.readouterr().out.splitlines()[2]
    assert row.split()[-1] == "2026-01-09T10:00:00.000000Z"


def test_given_an_exchange_when_executed_then_each_leg_is_a_line_naming_its_member(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's answer to an exchange of 200 STAR of guest-1 for 50 RIDE of rider-7
    debit = transaction("exchange", 200, (MEMBER, -200), ("program:STAR:exchange", 200))
    credit = transaction(
        "exchange",
        50,
        ("program:RIDE:exchange", -50),
        ("member:rideco:rider-7", 50),
        partner_id="rideco",
        member_id="rider-7",
        program="RIDE",
    )
    harness.client.answers.append(
        {
            "exchange_id": "exc_1",
            "quote_id": "qte_1",
            "rate": "0.25",
            "points_out": 200,
            "points_in": 50,
            "debit": debit,
            "credit": credit,
            "balances": {
                "from": {"program": "STAR", "available": 192, "pending": 0},
                "to": {"program": "RIDE", "available": 50, "pending": 0},
            },
        }
    )
    # When the exchange runs
    assert harness.run("exchange", "qte_1") == 0
    # Then each leg is a line with its member, its signed points and that member's balance
    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines[2:4]] == [
        ["exc_1", "guest-1", "STAR", "-200", "192", "0"],
        ["exc_1", "rider-7", "RIDE", "+50", "50", "0"],
    ]
    assert lines[4] == "200 for 50 at rate 0.25 (quote qte_1)"
