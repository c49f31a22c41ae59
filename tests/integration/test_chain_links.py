"""A day's check reads each account's link to the day before, and its latest entry when it
moved on since, by the keys entries and balances name them by (`previous`, `last_entry`), a
hundred a request; the `ByAccount` index decides only where nothing is named or the named
entry is not the link."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import boto3

from pointsnet.settlement.models import Period, Settlement
from pointsnet.settlement.run import Reconciler
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
        client = boto3.client("dynamodb")
        client.meta.events.register("before-parameter-build.dynamodb", self._count)
        self.reconciler: Reconciler = default_reconciler()
        self.reconciler.ledger = LedgerDayReader(LEDGER_TABLE, client)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls[(model.name, params.get("IndexName"))] += 1

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
    # When day 0 is settled (both accounts moved on since) and then day 1 (linked to day 0)
    day_0, day_1 = reads.settle(DAY_0.date()), reads.settle(DAY_1)
    # Then both are clean, and no check queried the ByAccount index: the links and the tips
    # came by key, in batches
    assert (failed(day_0), failed(day_1)) == ({}, {})
    assert reads.by_account_queries == 0
    assert reads.calls[("BatchGetItem", None)] >= 2


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
