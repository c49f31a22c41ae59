"""Tamper evidence: a balance changed by hand, an entry deleted from the table, and a journal
object removed or replaced are each found by the next run, named in its checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import boto3

from pointsnet.journal.layout import shard_prefix
from pointsnet.settlement.models import Period, Settlement
from pointsnet.wiring import default_reconciler
from tests.helpers import PARTNER_FUNCTION_ENV, catch_up_journal
from tests.points_life import DAY_0, LEDGER_TABLE, Life, life

__all__ = ["life"]

JOURNAL_BUCKET = PARTNER_FUNCTION_ENV["JOURNAL_BUCKET"]


def settle(day: date) -> Settlement:
    catch_up_journal()
    outcome = default_reconciler().reconcile(Period(period_start=day, period_end=day))
    assert outcome.settlement is not None
    return outcome.settlement


def failed(settlement: Settlement) -> dict[str, list[tuple[str, str]]]:
    return {
        check.name: [(detail.id, detail.message) for detail in check.details]
        for check in settlement.checks
        if not check.ok
    }


def a_settled_day(life: Life) -> str:
    """Given two members' earns on day 0, settled clean; the first earn's transaction id."""
    first = life.starlodge.earn("guest-1", 10, "a").body["transaction"]["transaction_id"]
    life.starlodge.earn("guest-2", 20, "b")
    assert failed(settle(DAY_0.date())) == {}
    return str(first)


def today() -> date:
    return datetime.now(UTC).date()


def test_a_balance_changed_by_hand_is_named_though_nothing_posted_to_it(life: Life) -> None:
    # Given two members' earns on day 0, journaled and settled clean
    a_settled_day(life)
    # When guest-2's stored balance is raised by 5 points straight in the table, long after
    boto3.client("dynamodb").update_item(
        TableName=LEDGER_TABLE,
        Key={"pk": {"S": "ACCT#member:starlodge:guest-2"}, "sk": {"S": "BALANCE"}},
        UpdateExpression="SET available = available + :five",
        ExpressionAttributeValues={":five": {"N": "5"}},
    )
    # Then the next run (of the day it happened) needs review and names the account
    settlement = settle(today())
    assert settlement.status.value == "needs_review"
    assert failed(settlement) == {
        "balances_match_entries": [
            (
                "member:starlodge:guest-2",
                "stored available 25, pending 0; entries sum to available 20, pending 0",
            )
        ]
    }


def test_an_entry_deleted_from_the_table_is_named(life: Life) -> None:
    # Given two members' earns on day 0, journaled and settled clean
    transaction_id = a_settled_day(life)
    # When guest-1's entry is deleted from the ledger table
    boto3.client("dynamodb").delete_item(
        TableName=LEDGER_TABLE,
        Key={"pk": {"S": f"TXN#{transaction_id}"}, "sk": {"S": "ENTRY"}},
    )
    # Then the next run needs review, naming the transaction
    settlement = settle(today())
    assert settlement.status.value == "needs_review"
    assert failed(settlement)["journal_complete"] == [
        (transaction_id, "the entry was deleted from the table after it was written")
    ]


def journal_keys(day: date) -> list[str]:
    s3 = boto3.client("s3")
    keys: list[str] = []
    for shard in range(64):
        listed = s3.list_objects_v2(Bucket=JOURNAL_BUCKET, Prefix=shard_prefix(day, shard))
        keys += [item["Key"] for item in listed.get("Contents", [])]
    return sorted(keys)


def test_a_journal_object_removed_is_named_by_the_next_run_of_its_day(life: Life) -> None:
    # Given two members' earns on day 0, journaled and settled clean
    a_settled_day(life)
    # When one of the day's journal objects is deleted (a delete marker: Object Lock keeps the
    # version, but the object is gone from the journal's view)
    removed = journal_keys(DAY_0.date())[0]
    boto3.client("s3").delete_object(Bucket=JOURNAL_BUCKET, Key=removed)
    # Then the day's next run needs review, naming the object
    settlement = settle(DAY_0.date())
    assert settlement.status.value == "needs_review"
    assert (removed, "the object is missing from the journal") in failed(settlement)[
        "journal_complete"
    ]


def test_a_journal_object_replaced_is_named_by_the_next_run_of_its_day(life: Life) -> None:
    # Given two members' earns on day 0, journaled and settled clean
    a_settled_day(life)
    # When one of the day's journal objects is overwritten with other bytes (a new version)
    replaced = journal_keys(DAY_0.date())[-1]
    boto3.client("s3").put_object(
        Bucket=JOURNAL_BUCKET, Key=replaced, Body=b"{}", ChecksumAlgorithm="SHA256"
    )
    # Then the day's next run needs review, naming the object
    settlement = settle(DAY_0.date())
    assert settlement.status.value == "needs_review"
    [(key, message)] = failed(settlement)["journal_complete"]
    assert key == replaced and message.startswith("the object is not a journal object")
