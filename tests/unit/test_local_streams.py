"""pointsnet.local.streams: a table's stream read on moto and handed to a function as Lambda's
DynamoDB event source mapping hands it: batches, filters, partial failures, bisection, retries
and the OnFailure record."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from pointsnet.local import streams
from pointsnet.local.runtime import LOCAL_PARAMETERS
from pointsnet.local.streams import (
    FunctionFailed,
    StreamConsumer,
    StreamSubscription,
    stream_subscriptions,
)
from pointsnet.local.template import LocalStack, load_template
from tests.conftest import FAKE_AWS

TABLE = "Outbox"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:pointsnet-local-PublishFunction"
WAIT_SECONDS = 10.0

Record = dict[str, Any]


@dataclass
class Aws:
    dynamodb: Any
    streams: Any
    sqs: Any
    failure_queue_url: str

    def put(self, *keys: str, kind: str = "keep") -> None:
        for key in keys:
            self.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": key}, "kind": {"S": kind}})

    def sequence_numbers(self) -> list[str]:
        """Every record's sequence number on the table's stream, oldest first."""
        arn = self.dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = self.streams.get_records(ShardIterator=iterator)["Records"]
        return [record["dynamodb"]["SequenceNumber"] for record in records]

    def failure_records(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.failure_queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return found
            found += [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """Given moto with a table whose stream shows new images, and a queue for failures."""
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    # Failing batches are retried at once, not after Lambda's backoff.
    monkeypatch.setattr(streams, "MAX_BACKOFF_SECONDS", 0.01)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        sqs = boto3.client("sqs")
        yield Aws(
            dynamodb=dynamodb,
            # moto serves the classic Streams endpoint, not botocore's per-account one.
            streams=boto3.client(
                "dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")
            ),
            sqs=sqs,
            failure_queue_url=sqs.create_queue(QueueName="outbox-failures")["QueueUrl"],
        )


def subscription(**properties: Any) -> StreamSubscription:
    """The one DynamoDB event of a tiny template, with these event properties."""
    template = {
        "Resources": {
            "OutboxTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "OutboxFailures": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "PublishFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {
                        "Outbox": {
                            "Type": "DynamoDB",
                            "Properties": {
                                "Stream": {"Fn::GetAtt": ["OutboxTable", "StreamArn"]},
                                "StartingPosition": "TRIM_HORIZON",
                                **properties,
                            },
                        }
                    }
                },
            },
        }
    }
    [only] = stream_subscriptions(template)
    return only


@dataclass
class RecordingFunction:
    """An `invoke` that records each batch; `respond` says what the function returns or raises."""

    respond: Callable[[int, list[Record]], Any] = lambda call, records: None
    batches: list[list[Record]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> Any:
        self.batches.append(event["Records"])
        return self.respond(len(self.batches), event["Records"])

    def keys(self) -> list[list[str]]:
        return [
            [record["dynamodb"]["Keys"]["pk"]["S"] for record in batch] for batch in self.batches
        ]

    def sizes(self) -> list[int]:
        return [len(batch) for batch in self.batches]


def always_fails(call: int, records: list[Record]) -> Any:
    raise FunctionFailed(f"invocation {call} failed")


@contextmanager
def consuming(
    aws: Aws,
    subscribed: StreamSubscription,
    function: RecordingFunction,
    *,
    position: str | None = None,
) -> Iterator[StreamConsumer]:
    consumer = StreamConsumer(
        subscribed,
        table_name=TABLE,
        function_arn=FUNCTION_ARN,
        invoke=function,
        dynamodb=aws.dynamodb,
        streams=aws.streams,
        sqs=aws.sqs,
        failure_queue_url=aws.failure_queue_url,
        position=position,
    )
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"still waiting, after {WAIT_SECONDS} s, for {what}"
        time.sleep(0.05)


def test_records_arrive_as_lambda_sends_them(aws: Aws) -> None:
    # Given an item written to the table
    before = time.time()
    aws.put("order-1")
    [sequence] = aws.sequence_numbers()
    function = RecordingFunction()

    # When the consumer reads the stream
    with consuming(aws, subscription(BatchSize=10), function) as consumer:
        wait_until(lambda: consumer.position == sequence, "the record to be handled")

    # Then the function got one record in Lambda's shape
    [[record]] = function.batches
    stream_arn = aws.dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    assert record["eventSourceARN"] == stream_arn
    assert record["eventVersion"] == "1.1"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventName"] == "INSERT"
    dynamodb = record["dynamodb"]
    assert isinstance(dynamodb["ApproximateCreationDateTime"], int)
    assert before - 1 <= dynamodb["ApproximateCreationDateTime"] <= time.time() + 1
    assert dynamodb["NewImage"] == {"pk": {"S": "order-1"}, "kind": {"S": "keep"}}
    assert dynamodb["SequenceNumber"] == sequence
    assert dynamodb["StreamViewType"] == "NEW_IMAGE"
    json.dumps(record)  # the function's event is JSON, as Lambda's is
    assert consumer.batches_delivered == 1


def test_batches_hold_at_most_the_batch_size_in_stream_order(aws: Aws) -> None:
    # Given five items written before the consumer starts
    aws.put("r1", "r2", "r3", "r4", "r5")
    function = RecordingFunction()

    # When a consumer with a batch size of 2 reads them
    with consuming(aws, subscription(BatchSize=2), function):
        wait_until(lambda: sum(function.sizes()) == 5, "five records")

    # Then they came in batches of 2, 2 and 1, in order
    assert function.keys() == [["r1", "r2"], ["r3", "r4"], ["r5"]]


def test_the_batching_window_gathers_records_that_arrive_within_it(aws: Aws) -> None:
    # Given a consumer that waits up to 2 s to fill a batch of 10
    function = RecordingFunction()
    with consuming(aws, subscription(BatchSize=10, MaximumBatchingWindowInSeconds=2), function):
        # When one record arrives, then two more half a second later
        aws.put("r1")
        time.sleep(0.5)
        aws.put("r2", "r3")
        wait_until(lambda: sum(function.sizes()) == 3, "three records")

    # Then the function got them in one batch
    assert function.keys() == [["r1", "r2", "r3"]]


def test_filtered_out_records_never_reach_the_function_but_are_passed(aws: Aws) -> None:
    # Given a filter for records of kind "keep", and records of both kinds, a skipped one last
    aws.put("keep-1")
    aws.put("skip-1", kind="skip")
    aws.put("keep-2")
    aws.put("skip-2", kind="skip")
    last = aws.sequence_numbers()[-1]
    filtered = subscription(
        BatchSize=10,
        FilterCriteria={
            "Filters": [{"Pattern": '{"dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}'}]
        },
    )
    function = RecordingFunction()

    # When the consumer reads them
    with consuming(aws, filtered, function) as consumer:
        wait_until(lambda: consumer.position == last, "the position to pass the last record")

    # Then the function saw only the matching ones
    assert function.keys() == [["keep-1", "keep-2"]]


def test_a_batch_of_only_filtered_out_records_invokes_nothing(aws: Aws) -> None:
    # Given records no filter matches
    aws.put("skip-1", "skip-2", kind="skip")
    last = aws.sequence_numbers()[-1]
    filtered = subscription(
        FilterCriteria={"Filters": [{"Pattern": '{"eventName": ["REMOVE"]}'}]},
    )
    function = RecordingFunction()

    # When the consumer reads them
    with consuming(aws, filtered, function) as consumer:
        wait_until(lambda: consumer.position == last, "the position to pass the last record")

    # Then the function was not invoked
    assert function.batches == []


def test_a_reported_item_failure_is_retried_from_that_record(aws: Aws) -> None:
    # Given three records, and a function whose first call reports the second as failed
    aws.put("r1", "r2", "r3")
    sequence = aws.sequence_numbers()

    def respond(call: int, records: list[Record]) -> Any:
        failed = [{"itemIdentifier": sequence[1]}] if call == 1 else []
        return {"batchItemFailures": failed}

    function = RecordingFunction(respond)
    partial = subscription(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])

    # When the consumer hands them over
    with consuming(aws, partial, function) as consumer:
        wait_until(lambda: len(function.batches) == 2, "the retry")
        wait_until(lambda: consumer.position == sequence[-1], "the batch to be done")

    # Then the retry started at the failed record, and nothing was given up
    assert function.keys() == [["r1", "r2", "r3"], ["r2", "r3"]]
    assert aws.failure_records() == []


def test_an_unknown_item_identifier_fails_the_whole_batch(aws: Aws) -> None:
    # Given a function whose first call reports an identifier that is no record's
    aws.put("r1", "r2")
    sequence = aws.sequence_numbers()

    def respond(call: int, records: list[Record]) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": "nonsense"}] if call == 1 else []}

    function = RecordingFunction(respond)
    partial = subscription(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])

    # When the consumer hands the records over
    with consuming(aws, partial, function) as consumer:
        wait_until(lambda: consumer.position == sequence[-1], "the batch to be done")

    # Then the whole batch was sent again
    assert function.keys() == [["r1", "r2"], ["r1", "r2"]]


def test_item_failures_are_ignored_unless_the_mapping_reports_them(aws: Aws) -> None:
    # Given a mapping without ReportBatchItemFailures, and a function that reports one
    aws.put("r1", "r2")
    sequence = aws.sequence_numbers()
    function = RecordingFunction(
        lambda call, records: {"batchItemFailures": [{"itemIdentifier": sequence[0]}]}
    )

    # When the consumer hands the records over
    with consuming(aws, subscription(BatchSize=10), function) as consumer:
        wait_until(lambda: consumer.position == sequence[-1], "the batch to be done")

    # Then the batch counts as done: the response is not read
    assert function.keys() == [["r1", "r2"]]


def test_a_failing_batch_is_bisected_then_given_up_to_the_failure_queue(aws: Aws) -> None:
    # Given four records, and a function that always fails, with bisection and two retries
    aws.put("r1", "r2", "r3", "r4")
    sequence = aws.sequence_numbers()
    function = RecordingFunction(always_fails)
    bisecting = subscription(
        BatchSize=4,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2,
        DestinationConfig={
            "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["OutboxFailures", "Arn"]}}
        },
    )
    stream_arn = aws.dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]

    # When the consumer hands them over
    with consuming(aws, bisecting, function) as consumer:
        wait_until(lambda: consumer.position == sequence[-1], "the records to be given up")

    # Then the batch was retried in halves
    assert function.sizes()[:3] == [4, 2, 1]
    # And every record was reported once, in order, to the failure queue
    failures = aws.failure_records()
    assert failures
    covered = []
    for failure in failures:
        info = failure["DDBStreamBatchInfo"]
        start, end = (
            sequence.index(info["startSequenceNumber"]),
            sequence.index(info["endSequenceNumber"]),
        )
        assert info["batchSize"] == end - start + 1
        assert info["streamArn"] == stream_arn
        assert info["shardId"]
        assert info["approximateArrivalOfFirstRecord"].endswith("Z")
        covered += sequence[start : end + 1]
        assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert failure["requestContext"]["functionArn"] == FUNCTION_ARN
        assert failure["requestContext"]["approximateInvokeCount"] == 3
        assert failure["version"] == "1.0"
    assert covered == sequence
    assert consumer.batches_failed == len(failures)


def test_a_failing_batch_without_bisection_is_retried_whole(aws: Aws) -> None:
    # Given a function that always fails, with two retries and no bisection
    aws.put("r1", "r2", "r3")
    sequence = aws.sequence_numbers()
    function = RecordingFunction(always_fails)
    retrying = subscription(BatchSize=10, MaximumRetryAttempts=2)

    # When the consumer hands the records over
    with consuming(aws, retrying, function) as consumer:
        wait_until(lambda: consumer.position == sequence[-1], "the records to be given up")

    # Then the whole batch was tried three times, then given up in one failure record
    assert function.sizes() == [3, 3, 3]
    [failure] = aws.failure_records()
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequence[0],
        sequence[-1],
        3,
    )


def test_a_consumer_started_at_a_saved_position_does_not_resend_earlier_records(
    aws: Aws,
) -> None:
    # Given four records, of which a previous run handled the first two
    aws.put("r1", "r2", "r3", "r4")
    sequence = aws.sequence_numbers()
    function = RecordingFunction()

    # When a consumer starts at that position
    with consuming(aws, subscription(BatchSize=10), function, position=sequence[1]) as consumer:
        wait_until(lambda: consumer.position == sequence[-1], "the rest to be handled")

    # Then only the later records reach the function
    assert function.keys() == [["r3", "r4"]]


def test_a_consumer_stopped_while_retrying_keeps_its_position_before_the_batch(aws: Aws) -> None:
    # Given a record the function keeps failing on, retried without limit
    aws.put("r1")
    function = RecordingFunction(always_fails)

    # When the consumer is stopped while it retries
    with consuming(aws, subscription(BatchSize=10), function) as consumer:
        wait_until(lambda: len(function.batches) >= 2, "a retry")

    # Then its position is not past the record, so a restart sends it again
    assert consumer.position is None
    again = RecordingFunction()
    with consuming(aws, subscription(BatchSize=10), again, position=consumer.position):
        wait_until(lambda: len(again.batches) == 1, "the record to be sent again")
    assert again.keys() == [["r1"]]


def test_the_events_function_subscription_reads_the_template() -> None:
    # Given template.yaml
    # When its stream subscriptions are read
    subscriptions = {item.function: item for item in stream_subscriptions(load_template())}
    ledger_stream = subscriptions["EventsFunction"]

    # Then EventsFunction's settings are those of its LedgerStream event
    assert (ledger_stream.function, ledger_stream.event, ledger_stream.table) == (
        "EventsFunction",
        "LedgerStream",
        "LedgerTable",
    )
    assert ledger_stream.name == "EventsFunction.LedgerStream"
    assert ledger_stream.starting_position == "TRIM_HORIZON"
    assert ledger_stream.batch_size == 100
    assert ledger_stream.window_seconds == 1
    assert ledger_stream.report_item_failures is True
    assert ledger_stream.bisect_on_error is True
    assert ledger_stream.max_retries == 100
    assert ledger_stream.max_record_age_seconds == 21600
    assert ledger_stream.on_failure_queue == "EventsDeadLetterQueue"
    [pattern] = ledger_stream.filters
    assert json.loads(pattern) == {
        "eventName": ["INSERT"],
        "dynamodb": {
            "NewImage": {"sk": {"S": ["ENTRY", {"prefix": "TIER#"}, {"prefix": "NOTICE#"}]}}
        },
    }


def test_the_journal_subscription_takes_its_window_from_the_stack_parameters() -> None:
    # Given template.yaml, whose journal gathers records for JournalBatchingSeconds
    template = load_template()
    # When its subscriptions are read with the defaults, and with the local network's values
    deployed = {item.function: item for item in stream_subscriptions(template)}
    local = {
        item.function: item
        for item in stream_subscriptions(template, LocalStack(parameters=LOCAL_PARAMETERS))
    }
    # Then the deployed journal waits 300 s for a batch, the local one a second
    assert deployed["JournalFunction"].window_seconds == 300
    assert local["JournalFunction"].window_seconds == 1
    assert local["JournalFunction"].bisect_on_error is True
    assert local["JournalFunction"].on_failure_queue == "JournalDeadLetterQueue"


def test_a_tiny_template_sets_every_knob() -> None:
    # Given a DynamoDB event with every setting the consumer reads
    # When the tiny template's stream subscription is read
    subscribed = subscription(
        StartingPosition="LATEST",
        BatchSize=7,
        MaximumBatchingWindowInSeconds=3,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=4,
        MaximumRecordAgeInSeconds=60,
        BisectBatchOnFunctionError=True,
        DestinationConfig={
            "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["OutboxFailures", "Arn"]}}
        },
        FilterCriteria={"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]},
    )

    # Then each is read
    assert subscribed == StreamSubscription(
        function="PublishFunction",
        event="Outbox",
        table="OutboxTable",
        starting_position="LATEST",
        batch_size=7,
        window_seconds=3.0,
        report_item_failures=True,
        max_retries=4,
        max_record_age_seconds=60,
        bisect_on_error=True,
        on_failure_queue="OutboxFailures",
        filters=('{"eventName": ["INSERT"]}',),
    )
    # And the defaults are Lambda's: no retry or age limit, no bisection, no destination
    defaults = subscription()
    assert (defaults.max_retries, defaults.max_record_age_seconds) == (-1, -1)
    assert (defaults.bisect_on_error, defaults.on_failure_queue, defaults.filters) == (
        False,
        None,
        (),
    )
