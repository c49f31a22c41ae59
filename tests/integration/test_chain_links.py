"""A day's check reads each account's link to the day before, and its latest entry when it
moved on since, by the keys entries and balances name them by (`previous`, `last_entry`), a
hundred a request; the `ByAccount` index decides only where nothing is named or the named
entry is not the link."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from pointsnet.settlement.models import Period, Settlement
from pointsnet.settlement.run import Reconciler
from pointsnet.settlement.shard_check import END_REREADS
from pointsnet.store.ledger_day_reader import LedgerDayReader
from pointsnet.store.ledger_items import HISTORY_INDEX
from pointsnet.wiring import default_reconciler
from tests.helpers import catch_up_journal
from tests.points_life import DAY_0, LEDGER_TABLE, Life, life

__all__ = ["life"]

DAY_1 = (DAY_0 + timedelta(days=1)).date()


class CountedReads:
    """A reconciler whose ledger reads go through a client that counts its requests."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str | None]] = Counter()
        self.entries_by_key = 0  # entries named in BatchGetItem requests
        client = boto3.client("dynamodb")
        client.meta.events.register("before-parameter-build.dynamodb", self._count)
        self.reconciler: Reconciler = default_reconciler()
        self.reconciler.ledger = LedgerDayReader(LEDGER_TABLE, client)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls[(model.name, params.get("IndexName"))] += 1
        for request in params.get("RequestItems", {}).values():
            self.entries_by_key += sum(key["pk"]["S"].startswith("TXN#") for key in request["Keys"])

    def settle(self, day: Any) -> Settlement:
        catch_up_journal()
        outcome = self.reconciler.reconcile(Period(period_start=day, period_end=day))
        assert outcome.settlement is not None
        return outcome.settlement

    @property
    def by_account_queries(self) -> int:
        return self.calls[("Query", HISTORY_INDEX)]


def failed(settlement: Settlement) -> dict[str, list[tuple[str, str]]]:
    return {
        check.name: [(detail.id, detail.message) for detail in check.details]
        for check in settlement.checks
        if not check.ok
    }


def item(pk: str, sk: str) -> dict[str, Any]:
    found: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=LEDGER_TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}
    )["Item"]
    return found


def earn_on_two_days(life: Life) -> dict[str, list[str]]:
    """Given guest-1 and guest-2 each earning on day 0 and on day 1: their transaction ids."""
    ids: dict[str, list[str]] = {"guest-1": [], "guest-2": []}
    for day in (0, 1):
        life.clock.day(day)
        for member, points in (("guest-1", 10), ("guest-2", 20)):
            body = life.starlodge.earn(member, points, f"{member}-{day}").body
            ids[member].append(body["transaction"]["transaction_id"])
    return ids


def test_a_posting_names_its_accounts_entry_before_and_the_balance_its_last(life: Life) -> None:
    # Given a member's earns on two days
    ids = earn_on_two_days(life)
    first, second = ids["guest-1"]
    # When its entries and balance are read from the table
    # Then the first names no entry before it, the second names the first, and the balance
    # names the second
    assert "previous" not in item(f"TXN#{first}", "ENTRY")
    assert item(f"TXN#{second}", "ENTRY")["previous"] == {"S": first}
    balance = item("ACCT#member:starlodge:guest-1", "BALANCE")
    assert balance["last_entry"] == {"S": second}
    assert balance["entries"] == {"N": "2"}


def test_days_link_and_reach_their_tips_by_key_without_a_by_account_query(life: Life) -> None:
    # Given two members with an entry on each of two days
    earn_on_two_days(life)
    reads = CountedReads()
    # When day 0 is settled (both accounts moved on since)
    day_0 = reads.settle(DAY_0.date())
    # Then it is clean, and each account's latest entry was read by key, not queried
    assert failed(day_0) == {}
    assert (reads.by_account_queries, reads.entries_by_key) == (0, 2)
    # And when day 1 is settled, each account's link to day 0 is read by key too
    assert failed(reads.settle(DAY_1)) == {}
    assert (reads.by_account_queries, reads.entries_by_key) == (0, 4)


def test_a_named_entry_gone_from_the_table_is_found_through_by_account(life: Life) -> None:
    # Given two members with an entry on each of two days, day 0 settled clean
    ids = earn_on_two_days(life)
    reads = CountedReads()
    assert failed(reads.settle(DAY_0.date())) == {}
    # When guest-1's day-0 entry, the one its day-1 entry names, is deleted from the table
    boto3.client("dynamodb").delete_item(
        TableName=LEDGER_TABLE,
        Key={"pk": {"S": f"TXN#{ids['guest-1'][0]}"}, "sk": {"S": "ENTRY"}},
    )
    reads.calls.clear()
    # Then day 1's run asks ByAccount for that account alone, and names the broken link
    settlement = reads.settle(DAY_1)
    assert failed(settlement) == {
        "entries_chain": [
            ("member:starlodge:guest-1", "the entry before entry 2 is missing (none)")
        ]
    }
    assert reads.by_account_queries == 1


def test_an_entry_that_names_nothing_is_linked_through_by_account(life: Life) -> None:
    member = "guest-1"
    # Given a member's day-0 earn on a balance that records no last entry (as balances
    # written before they did)
    life.starlodge.earn(member, 10, "first")
    boto3.client("dynamodb").update_item(
        TableName=LEDGER_TABLE,
        Key={"pk": {"S": f"ACCT#member:starlodge:{member}"}, "sk": {"S": "BALANCE"}},
        UpdateExpression="REMOVE last_entry",
    )
    reads = CountedReads()
    assert failed(reads.settle(DAY_0.date())) == {}
    # When the member earns again on day 1: its entry names no predecessor
    life.clock.day(1)
    second = life.starlodge.earn(member, 5, "second").body["transaction"]["transaction_id"]
    assert "previous" not in item(f"TXN#{second}", "ENTRY")
    reads.calls.clear()
    # Then day 1's run links it through one ByAccount query, and finds it sound
    assert failed(reads.settle(DAY_1)) == {}
    assert reads.by_account_queries == 1


def roll_back(member: str, available: int, entries: int, last_entry: str) -> None:
    """A member's stored balance put back by hand to where an earlier entry left it."""
    boto3.client("dynamodb").update_item(
        TableName=LEDGER_TABLE,
        Key={"pk": {"S": f"ACCT#member:starlodge:{member}"}, "sk": {"S": "BALANCE"}},
        UpdateExpression="SET available = :available, entries = :entries, last_entry = :last",
        ExpressionAttributeValues={
            ":available": {"N": str(available)},
            ":entries": {"N": str(entries)},
            ":last": {"S": last_entry},
        },
    )


def two_earns(life: Life) -> str:
    """guest-1 earns 10 and, a minute later (so ByAccount orders them by time), 20 points on
    day 0; the first earn's transaction id."""
    first = life.starlodge.earn("guest-1", 10, "a").body["transaction"]["transaction_id"]
    life.clock.at(DAY_0 + timedelta(minutes=1))
    life.starlodge.earn("guest-1", 20, "b")
    return str(first)


def test_a_balance_rolled_back_behind_the_days_entries_is_named(life: Life) -> None:
    # Given guest-1's two earns of day 0 (10 and 20 points)
    first = two_earns(life)
    # When its balance is put back by hand to where the first left it, naming that entry
    roll_back("guest-1", 10, 1, first)
    reads = CountedReads()
    # Then day 0's run does not take the named entry for the latest: it asks ByAccount (and
    # again on each reread of a mismatch), and names the balance that counts too few entries
    assert failed(reads.settle(DAY_0.date())) == {
        "balances_match_entries": [
            ("member:starlodge:guest-1", "the balance counts 1 entries; its latest entry is 2")
        ]
    }
    assert reads.by_account_queries == 1 + END_REREADS


def test_a_rollback_and_a_posting_after_it_on_one_day_are_found_through_by_account(
    life: Life,
) -> None:
    # Given guest-1's two earns of day 0, settled clean
    first = two_earns(life)
    reads = CountedReads()
    assert failed(reads.settle(DAY_0.date())) == {}
    # When, today, its balance is put back by hand to where the first earn left it, and an
    # earn posts on it: a second entry 2, naming the first as its predecessor
    roll_back("guest-1", 10, 1, first)
    life.clock.at(datetime.now(UTC))
    again = life.starlodge.earn("guest-1", 5, "c").body["transaction"]["transaction_id"]
    assert item(f"TXN#{again}", "ENTRY")["previous"] == {"S": first}
    reads.calls.clear()
    # Then today's run does not trust the name, since the day wrote the balance without an
    # entry: ByAccount finds day 0's entry 2 before the day, and the run names the account
    settlement = reads.settle(datetime.now(UTC).date())
    assert failed(settlement) == {
        "balances_match_entries": [
            (
                "member:starlodge:guest-1",
                "stored available 10, pending 0; no entry 1 is behind it",
            )
        ],
        "entries_chain": [("member:starlodge:guest-1", "the entry before entry 2 is missing (2)")],
    }
    assert reads.by_account_queries == 1
