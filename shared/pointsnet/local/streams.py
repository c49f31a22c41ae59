"""DynamoDB stream event sources, run locally as Lambda's event source mapping runs them.

For every `Type: DynamoDB` event in template.yaml, a thread reads the table's stream through
the emulator's DynamoDB Streams API and invokes the function with the batches Lambda would
send: the template's batch size and batching window, its filter patterns, partial batch
responses (`ReportBatchItemFailures`), retries up to `MaximumRetryAttempts` and
`MaximumRecordAgeInSeconds`, halving a failing batch (`BisectBatchOnFunctionError`), and a
record of each batch given up on sent to the `OnFailure` queue.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pointsnet.local.background import Background
from pointsnet.local.template import LocalStack, resources_of_type

logger = logging.getLogger("pointsnet.local.streams")

# How often an idle stream is read; Lambda polls each shard about four times a second.
POLL_SECONDS = 0.25
# The longest pause between retries of a failing batch.
MAX_BACKOFF_SECONDS = 5.0

Invoke = Callable[[dict[str, Any]], Any]


class FunctionFailed(Exception):
    """The function raised, timed out or could not run: the whole batch failed."""


@dataclass(frozen=True)
class StreamSubscription:
    """One DynamoDB event of a function in template.yaml."""

    function: str
    event: str
    table: str
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 100
    window_seconds: float = 0.0
    report_item_failures: bool = False
    max_retries: int = -1
    max_record_age_seconds: int = -1
    bisect_on_error: bool = False
    on_failure_queue: str | None = None
    filters: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"


def stream_subscriptions(
    template: Mapping[str, Any], stack: LocalStack | None = None
) -> list[StreamSubscription]:
    """Every `Type: DynamoDB` event source of the template's functions."""
    stack = stack or LocalStack()

    def number(value: Any) -> float:
        return float(stack.resolve(value, template))

    subscriptions = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "DynamoDB":
                continue
            props = event["Properties"]
            destination = props.get("DestinationConfig", {}).get("OnFailure", {})
            subscriptions.append(
                StreamSubscription(
                    function=logical_id,
                    event=event_name,
                    table=_logical_id_of(props["Stream"]),
                    starting_position=props.get("StartingPosition", "TRIM_HORIZON"),
                    batch_size=int(number(props.get("BatchSize", 100))),
                    window_seconds=number(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                    max_retries=int(props.get("MaximumRetryAttempts", -1)),
                    max_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
                    bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                    on_failure_queue=(
                        _logical_id_of(destination["Destination"])
                        if destination.get("Type") == "SQS"
                        else None
                    ),
                    filters=tuple(
                        str(item["Pattern"])
                        for item in props.get("FilterCriteria", {}).get("Filters", [])
                    ),
                )
            )
    return subscriptions


def _logical_id_of(reference: Any) -> str:
    """The resource a `!GetAtt X.StreamArn` / `!Ref X` names."""
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return str(reference["Fn::GetAtt"][0])
    if isinstance(reference, dict) and "Ref" in reference:
        return str(reference["Ref"])
    raise ValueError(f"a stream event source must name a resource of the template: {reference}")


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from GetRecords as Lambda passes it to the function."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        # Lambda sends epoch seconds; boto3 parsed them into a datetime.
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "eventVersion": "1.1", "dynamodb": dynamodb, "eventSourceARN": stream_arn}


class StreamConsumer:
    """One event source mapping: a thread from the stream to the function.

    `position` is the last sequence number handled before (a restart over persisted state
    carries on after it); `self.position` is where the mapping has got to since.
    """

    def __init__(
        self,
        subscription: StreamSubscription,
        *,
        table_name: str,
        function_arn: str,
        invoke: Invoke,
        dynamodb: Any,
        streams: Any,
        sqs: Any,
        failure_queue_url: str | None,
        position: str | None = None,
    ) -> None:
        from moto.events.models import EventPattern

        self.subscription = subscription
        self.table_name = table_name
        self.function_arn = function_arn
        self._invoke = invoke
        self._dynamodb, self._streams, self._sqs = dynamodb, streams, sqs
        self._failure_queue_url = failure_queue_url
        self._patterns = [EventPattern.load(raw) for raw in subscription.filters]
        self._background = Background(f"stream-{subscription.name}", self._run, timeout=10)
        self._stopping = self._background.stopping
        self._stream_arn = ""
        self._shard_id = ""
        self._buffer: list[dict[str, Any]] = []
        self._first_buffered_at = 0.0
        self.position = position
        self.batches_delivered = 0
        self.batches_failed = 0

    def start(self) -> None:
        table = self._dynamodb.describe_table(TableName=self.table_name)["Table"]
        self._stream_arn = table["LatestStreamArn"]
        stream = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        self._shard_id = stream["Shards"][0]["ShardId"]
        self._background.start()

    def stop(self) -> None:
        self._background.stop()

    # -- reading ------------------------------------------------------------------------------

    def _run(self) -> None:
        iterator = self._iterator()
        while not self._stopping.is_set():
            try:
                iterator = self._fill(iterator)
                if self._batch_ready():
                    batch = self._buffer[: self.subscription.batch_size]
                    if not self._deliver(batch):
                        return  # stopped mid-batch: the position stays before it, to resend
                    del self._buffer[: len(batch)]
                    self._first_buffered_at = time.monotonic() if self._buffer else 0.0
                    self.position = batch[-1]["dynamodb"]["SequenceNumber"]
                    continue
            except Exception:
                # The emulator stopping under us, or a bug: log it and read again, as Lambda does.
                if self._stopping.is_set():
                    return
                logger.exception("%s: reading the stream failed", self.subscription.name)
                iterator = self._iterator()
                self._buffer.clear()
            self._stopping.wait(POLL_SECONDS)

    def _iterator(self) -> str:
        arguments = {"ShardIteratorType": self.subscription.starting_position}
        if self.position is not None:
            arguments = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": self.position,
            }
        response = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=self._shard_id, **arguments
        )
        return str(response["ShardIterator"])

    def _fill(self, iterator: str) -> str:
        wanted = self.subscription.batch_size - len(self._buffer)
        if wanted <= 0:
            return iterator
        response = self._streams.get_records(ShardIterator=iterator, Limit=wanted)
        records = response.get("Records", [])
        if records:
            if not self._buffer:
                self._first_buffered_at = time.monotonic()
            self._buffer.extend(lambda_record(record, self._stream_arn) for record in records)
        return str(response.get("NextShardIterator") or iterator)

    def _batch_ready(self) -> bool:
        if not self._buffer:
            return False
        if len(self._buffer) >= self.subscription.batch_size:
            return True
        waited = time.monotonic() - self._first_buffered_at
        return waited >= self.subscription.window_seconds

    # -- delivering ---------------------------------------------------------------------------

    def _deliver(self, records: list[dict[str, Any]]) -> bool:
        """Hand the records to the function until each is done or given up on; False when
        the consumer was stopped first."""
        pending = [record for record in records if self._matches(record)]
        queue: list[list[dict[str, Any]]] = [pending] if pending else []
        attempts = 0
        while queue and not self._stopping.is_set():
            batch = queue.pop(0)
            failed_from = self._invoke_batch(batch)
            if failed_from is None:
                self.batches_delivered += 1
                continue
            remaining = batch[failed_from:]
            condition = self._give_up(remaining, attempts)
            if condition:
                self._send_to_failure_destination(remaining, condition, attempts + 1)
                continue
            attempts += 1
            whole_batch_failed = failed_from == 0
            if whole_batch_failed and self.subscription.bisect_on_error and len(remaining) > 1:
                half = len(remaining) // 2
                queue[:0] = [remaining[:half], remaining[half:]]
            else:
                queue.insert(0, remaining)
            self._stopping.wait(min(MAX_BACKOFF_SECONDS, 0.1 * 2 ** min(attempts, 10)))
        return not queue

    def _invoke_batch(self, batch: list[dict[str, Any]]) -> int | None:
        """None when the whole batch is done; else the index to retry from."""
        try:
            result = self._invoke({"Records": batch})
        except FunctionFailed as exc:
            logger.warning("%s failed on %d records: %s", self.subscription.name, len(batch), exc)
            return 0
        if not self.subscription.report_item_failures or not isinstance(result, dict):
            return None
        failures = result.get("batchItemFailures") or []
        if not failures:
            return None
        sequence = [record["dynamodb"]["SequenceNumber"] for record in batch]
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in sequence:
                return 0  # Lambda treats an unknown or empty identifier as a failed batch
            indexes.append(sequence.index(identifier))
        logger.warning("%s reported %d failed records", self.subscription.name, len(failures))
        return min(indexes)

    def _give_up(self, records: list[dict[str, Any]], attempts: int) -> str | None:
        subscription = self.subscription
        if subscription.max_record_age_seconds >= 0:
            oldest = min(record["dynamodb"]["ApproximateCreationDateTime"] for record in records)
            if time.time() - oldest > subscription.max_record_age_seconds:
                return "RecordAgeExceeded"
        if subscription.max_retries >= 0 and attempts >= subscription.max_retries:
            return "RetryAttemptsExhausted"
        return None

    def _send_to_failure_destination(
        self, records: list[dict[str, Any]], condition: str, invocations: int
    ) -> None:
        self.batches_failed += 1
        logger.error(
            "%s gave up on %d records (%s)", self.subscription.name, len(records), condition
        )
        if self._failure_queue_url is None:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        message = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _rfc3339(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _rfc3339(last["ApproximateCreationDateTime"]),
                "batchSize": len(records),
                "streamArn": self._stream_arn,
            },
        }
        self._sqs.send_message(QueueUrl=self._failure_queue_url, MessageBody=json.dumps(message))

    def _matches(self, record: dict[str, Any]) -> bool:
        # Lambda drops records no filter matches: handled, though the function never sees them.
        return not self._patterns or any(
            pattern.matches_event(record)  # type: ignore[arg-type]
            for pattern in self._patterns
        )


def _rfc3339(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")
