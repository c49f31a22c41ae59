"""Earn, burn, history and reversals through the partner function, on moto."""

from __future__ import annotations

from pointsnet.ledger.check import check_ledger
from pointsnet.settings import get_settings
from pointsnet.store.ledger_store import LedgerStore
from tests.helpers import SignedCaller


def ledger_check():  # type: ignore[no-untyped-def]
    return check_ledger(LedgerStore(get_settings().ledger_table).scan())


def balance_of(caller: SignedCaller, member_id: str) -> int:
    reply = caller.get(f"/v1/members/{member_id}")
    assert reply.status == 200, reply.body
    return int(reply.body["balance"]["available"])


def test_earn_burn_and_history_newest_first(starlodge: SignedCaller) -> None:
    # Given a member who earns 100 and then 40
    first = starlodge.earn("guest-1", 100, "stay-1")
    second = starlodge.earn("guest-1", 40, "stay-2")
    # When she burns 30
    burn = starlodge.burn("guest-1", 30, "redeem-1", description="room upgrade")
    # Then each response carries the transaction and the balance right after it
    assert (first.status, second.status, burn.status) == (201, 201, 201)
    assert first.body["balance"] == {"program": "STAR", "available": 100, "pending": 0}
    assert second.body["balance"]["available"] == 140
    assert burn.body["balance"]["available"] == 110
    assert burn.body["transaction"]["type"] == "burn"
    assert burn.body["transaction"]["points"] == 30
    assert burn.body["transaction"]["description"] == "room upgrade"
    # And the history lists the three, newest first
    history = starlodge.get("/v1/members/guest-1/transactions")
    assert history.status == 200
    assert [item["reference"] for item in history.body["items"]] == [
        "redeem-1",
        "stay-2",
        "stay-1",
    ]
    assert history.body.get("next_cursor") is None
    assert balance_of(starlodge, "guest-1") == 110
    assert ledger_check().ok


def test_history_pages_with_a_cursor(starlodge: SignedCaller) -> None:
    # Given five earns
    for number in range(5):
        starlodge.earn("guest-1", number + 1, f"r-{number}")
    # When the history is read two at a time
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = starlodge.get("/v1/members/guest-1/transactions", **query)
        assert page.status == 200, page.body
        seen += [item["reference"] for item in page.body["items"]]
        pages += 1
        cursor = page.body.get("next_cursor")
        if not cursor:
            break
    # Then every transaction appears once, newest first, over three pages
    assert seen == ["r-4", "r-3", "r-2", "r-1", "r-0"]
    assert pages == 3


def test_a_forged_cursor_names_no_page(starlodge: SignedCaller) -> None:
    # Any string is a well-formed cursor; one the API never returned is not_found, not invalid
    # Given a member with a transaction
    starlodge.earn("guest-1", 5)
    # When starlodge asks for their history with a cursor it never was given
    reply = starlodge.get("/v1/members/guest-1/transactions", cursor="not-a-cursor")
    # Then the page is not found, not a validation error
    assert (reply.status, reply.code) == (404, "not_found")


def test_burn_beyond_the_balance_is_refused_and_changes_nothing(starlodge: SignedCaller) -> None:
    # Given a member with 50 points
    starlodge.earn("guest-1", 50)
    # When the partner burns 51
    reply = starlodge.burn("guest-1", 51)
    # Then 409 insufficient_points, and the balance and history are as before
    assert (reply.status, reply.code) == (409, "insufficient_points")
    assert balance_of(starlodge, "guest-1") == 50
    assert len(starlodge.get("/v1/members/guest-1/transactions").body["items"]) == 1
    assert ledger_check().ok


def test_burn_for_a_member_who_never_earned_is_insufficient(starlodge: SignedCaller) -> None:
    # Given a member who never earned; When starlodge burns 1 point of theirs
    reply = starlodge.burn("nobody", 1)
    # Then it is refused for insufficient points
    assert (reply.status, reply.code) == (409, "insufficient_points")


def test_partial_then_full_reversal_and_never_more_than_remains(starlodge: SignedCaller) -> None:
    # Given an earn of 100
    earn = starlodge.earn("guest-1", 100).body["transaction"]
    # When 30 are reversed
    partial = starlodge.reverse(earn["transaction_id"], points=30, reason="partial refund")
    # Then a reversal of 30 is posted and 70 remain on the member
    assert partial.status == 201, partial.body
    assert partial.body["type"] == "reversal"
    assert partial.body["reverses"] == earn["transaction_id"]
    assert partial.body["points"] == 30
    assert balance_of(starlodge, "guest-1") == 70
    # And reversing 71 (more than the 70 that remain) is a conflict that changes nothing
    over = starlodge.reverse(earn["transaction_id"], points=71)
    assert (over.status, over.code) == (409, "conflict")
    assert balance_of(starlodge, "guest-1") == 70
    # And a reversal without points takes all that remains
    rest = starlodge.reverse(earn["transaction_id"])
    assert (rest.status, rest.body["points"]) == (201, 70)
    assert balance_of(starlodge, "guest-1") == 0
    # And once nothing remains, another reversal is a conflict
    again = starlodge.reverse(earn["transaction_id"], points=1)
    assert (again.status, again.code) == (409, "conflict")
    detail = starlodge.get(f"/v1/transactions/{earn['transaction_id']}")
    assert detail.body["points_reversed"] == 100
    assert ledger_check().ok


def test_reversing_a_burn_gives_the_points_back(starlodge: SignedCaller) -> None:
    # Given a member who earned 100 points and burnt 60
    starlodge.earn("guest-1", 100)
    burn = starlodge.burn("guest-1", 60).body["transaction"]
    # When 20 points of the burn are reversed
    reply = starlodge.reverse(burn["transaction_id"], points=20)
    # Then the member has 60 points again and the ledger checks out
    assert reply.status == 201
    assert balance_of(starlodge, "guest-1") == 60
    assert ledger_check().ok


def test_reversing_spent_points_is_insufficient(starlodge: SignedCaller) -> None:
    # Given 100 earned and 90 of them burned
    earn = starlodge.earn("guest-1", 100).body["transaction"]
    starlodge.burn("guest-1", 90)
    # When the whole earn is reversed; Then the balance cannot cover it
    reply = starlodge.reverse(earn["transaction_id"])
    assert (reply.status, reply.code) == (409, "insufficient_points")
    assert balance_of(starlodge, "guest-1") == 10


def test_a_reversal_cannot_be_reversed(starlodge: SignedCaller) -> None:
    # Given an earn of 10 points, reversed
    earn = starlodge.earn("guest-1", 10).body["transaction"]
    reversal = starlodge.reverse(earn["transaction_id"]).body
    # When the reversal is reversed
    reply = starlodge.reverse(reversal["transaction_id"])
    # Then it is a conflict
    assert (reply.status, reply.code) == (409, "conflict")


def test_a_transaction_reads_back_as_it_was_posted(starlodge: SignedCaller) -> None:
    # Given an earn of 10 points for a stay
    earn = starlodge.earn("guest-1", 10, "stay-9").body["transaction"]
    # When starlodge reads the transaction
    reply = starlodge.get(f"/v1/transactions/{earn['transaction_id']}")
    # Then it is as posted, none of it reversed, its postings summing to zero
    assert reply.status == 200
    for name in (
        "transaction_id",
        "type",
        "program",
        "points",
        "member_id",
        "reference",
        "created_at",
        "status",
    ):
        assert reply.body[name] == earn[name]
    assert reply.body["points_reversed"] == 0
    assert sum(posting["points"] for posting in reply.body["postings"]) == 0


def test_a_partner_never_sees_another_partners_members_or_transactions(
    starlodge: SignedCaller, rideco: SignedCaller
) -> None:
    # Given a starlodge member with a transaction
    earn = starlodge.earn("guest-1", 10).body["transaction"]
    # When rideco asks for that member, her history or the transaction, or tries to reverse it
    replies = [
        rideco.get("/v1/members/guest-1"),
        rideco.get("/v1/members/guest-1/transactions"),
        rideco.get(f"/v1/transactions/{earn['transaction_id']}"),
        rideco.reverse(earn["transaction_id"]),
    ]
    # Then every answer is 404 not_found, as if they did not exist
    assert [(reply.status, reply.code) for reply in replies] == [(404, "not_found")] * 4
    # And rideco's member guest-1 is a different person with her own balance
    rideco.earn("guest-1", 3)
    assert balance_of(rideco, "guest-1") == 3
    assert balance_of(starlodge, "guest-1") == 10


def test_an_unknown_member_or_transaction_is_not_found(starlodge: SignedCaller) -> None:
    # Given no member nobody and no such transaction
    # When starlodge reads them
    # Then both are not found
    assert starlodge.get("/v1/members/nobody").code == "not_found"
    assert starlodge.get("/v1/transactions/txn_" + "a" * 26).code == "not_found"
