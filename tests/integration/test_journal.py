"""The journal: every entry lands once in S3 by UTC day and account shard, under a hash chain
that shows a missing or altered object, however Lambda delivers the stream."""

from __future__ import annotations

import copy
from datetime import date

import boto3

from pointsnet.journal.layout import journal_shards, shard_prefix
from pointsnet.journal.reading import ShardDay, read_shard_day
from pointsnet.journal.records import JournalEvent
from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
from tests.helpers import PARTNER_FUNCTION_ENV
from tests.points_life import DAY_0, Life, life

__all__ = ["life"]

BUCKET = PARTNER_FUNCTION_ENV["JOURNAL_BUCKET"]
SETTLEMENT_TABLE = PARTNER_FUNCTION_ENV["SETTLEMENT_TABLE"]


def read_day(day: date) -> list[ShardDay]:
    objects, heads = JournalBucket(BUCKET), JournalHeads(SETTLEMENT_TABLE)
    return [read_shard_day(objects, heads, day, shard) for shard in range(journal_shards())]


def journaled(day: date) -> list[str]:
    return sorted(
        record.transaction_id
        for shard in read_day(day)
        for record in shard.records
        if record.event == JournalEvent.INSERT and record.transaction_id is not None
    )


def problems(day: date) -> list[tuple[str, str]]:
    return [problem for shard in read_day(day) for problem in shard.problems]


def post_three(life: Life) -> list[str]:
    ids = [
        life.starlodge.earn("guest-1", 10, "a").body["transaction"]["transaction_id"],
        life.starlodge.earn("guest-2", 20, "b").body["transaction"]["transaction_id"],
        life.rideco.earn("rider-1", 5, "c").body["transaction"]["transaction_id"],
    ]
    return sorted(ids)


def test_every_entry_lands_once_in_its_day_and_shard(life: Life) -> None:
    # Given three entries in the ledger's stream
    ids = post_three(life)
    records = life.events.stream_records()
    # When the journal function takes the batch
    result = life.events.journal(records)
    # Then each entry is journaled once, in the shard of its account, and the chains are whole
    kinds = [record["dynamodb"]["Keys"]["sk"]["S"] for record in records]
    assert result["records"] == kinds.count("ENTRY") + kinds.count("BALANCE")
    assert kinds.count("ENTRY") == 3
    assert journaled(DAY_0.date()) == ids
    assert problems(DAY_0.date()) == []
    for shard in read_day(DAY_0.date()):
        for record in shard.records:
            if record.entry is None:
                continue
            assert record.shard(journal_shards()) == shard.shard
            assert record.entry.number == 1


def test_a_redelivered_batch_writes_nothing_new(life: Life) -> None:
    # Given a batch the journal function already wrote
    post_three(life)
    records = life.events.stream_records()
    first = life.events.journal(records)
    # When Lambda delivers the same batch again (a retry after a timeout)
    second = life.events.journal(records)
    # Then the second delivery writes no object, and each entry is there once
    assert first["objects"] >= 1 and second["objects"] == 0
    assert len(journaled(DAY_0.date())) == 3
    assert problems(DAY_0.date()) == []


def test_a_halved_retry_is_counted_once(life: Life) -> None:
    # Given a batch the journal function wrote, then a failure that made Lambda halve it
    ids = post_three(life)
    records = life.events.stream_records()
    life.events.journal(records)
    # When the halves come again
    life.events.journal(records[:2])
    life.events.journal(records[2:])
    # Then readers see each entry once, and the chains are still whole
    assert journaled(DAY_0.date()) == ids
    assert problems(DAY_0.date()) == []


def test_a_record_written_again_with_other_content_is_named(life: Life) -> None:
    # Given a journaled earn
    life.starlodge.earn("guest-1", 10, "a")
    records = life.events.stream_records()
    life.events.journal(records)
    # When its entry's stream record comes again saying another thing, in a batch with the
    # member's next earn (so that the batch is not one the journal has seen)
    entry = next(record for record in records if record["dynamodb"]["Keys"]["sk"]["S"] == "ENTRY")
    altered = copy.deepcopy(entry)
    altered["dynamodb"]["NewImage"]["fingerprint"] = {"S": "0" * 64}
    life.starlodge.earn("guest-1", 5, "b")
    assert life.events.journal([altered, *life.events.stream_records()])["objects"] >= 1
    # Then readers keep the first copy and name the record that differs from it
    sequence = entry["dynamodb"]["SequenceNumber"]
    assert [message for _, message in problems(DAY_0.date())] == [
        f"stream record {sequence} differs from its copy"
    ]
    assert len(journaled(DAY_0.date())) == 2
    kept = [
        record.entry.fingerprint
        for shard in read_day(DAY_0.date())
        for record in shard.records
        if record.sequence == sequence and record.entry is not None
    ]
    assert kept == [entry["dynamodb"]["NewImage"]["fingerprint"]["S"]]


def test_a_writer_that_stopped_before_moving_the_head_is_caught_up(life: Life) -> None:
    # Given a batch written to S3 by a writer that stopped before it moved the chain's head
    post_three(life)
    records = life.events.stream_records()
    life.events.journal(records)
    table = boto3.resource("dynamodb").Table(SETTLEMENT_TABLE)
    heads = table.scan()["Items"]
    for head in heads:
        table.delete_item(Key={"pk": head["pk"], "sk": head["sk"]})
    # When Lambda retries the batch
    retry = life.events.journal(records)
    # Then nothing is written twice and the heads name the objects again
    assert retry["objects"] == 0
    assert len(journaled(DAY_0.date())) == 3
    assert problems(DAY_0.date()) == []


def test_a_removed_or_altered_object_breaks_the_chain(life: Life) -> None:
    # Given two batches of one account's entries in one shard's day
    life.starlodge.earn("guest-1", 10, "a")
    life.events.journal(life.events.stream_records())
    life.starlodge.earn("guest-1", 20, "b")
    life.events.journal(life.events.stream_records())
    life.starlodge.earn("guest-1", 30, "c")
    life.events.journal(life.events.stream_records())
    s3 = boto3.client("s3")
    (shard,) = [item for item in read_day(DAY_0.date()) if item.objects]
    prefix = shard_prefix(DAY_0.date(), shard.shard)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    keys = sorted(item["Key"] for item in listed)
    assert len(keys) == 3
    # When one object is replaced by a new version and the last one is deleted
    s3.put_object(Bucket=BUCKET, Key=keys[0], Body=b"not the journal", ChecksumAlgorithm="SHA256")
    s3.delete_object(Bucket=BUCKET, Key=keys[2])
    # Then the reader names both
    found = dict(problems(DAY_0.date()))
    assert "not a journal object" in found[keys[0]]
    assert found[keys[2]] == "the object is missing from the journal"


def test_a_deleted_entry_is_journaled_as_evidence(life: Life) -> None:
    # Given a journaled entry
    life.starlodge.earn("guest-1", 10, "a")
    life.events.journal(life.events.stream_records())
    (txn,) = journaled(DAY_0.date())
    # When someone deletes it from the table
    boto3.client("dynamodb").delete_item(
        TableName=PARTNER_FUNCTION_ENV["LEDGER_TABLE"],
        Key={"pk": {"S": f"TXN#{txn}"}, "sk": {"S": "ENTRY"}},
    )
    life.events.journal(life.events.stream_records())
    # Then the journal holds the removal (on the day it was seen), naming the transaction
    removals = [
        record
        for shard in read_day(date.today())
        for record in shard.records
        if record.event == JournalEvent.REMOVE
    ]
    assert [record.transaction_id for record in removals] == [txn]
