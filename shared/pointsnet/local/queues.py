"""The template's SQS event sources, polled as Lambda polls them.

For each function event of `Type: SQS`, a thread receives up to `BatchSize` messages (all
attributes: the receive count is a delivery's attempt), invokes the function with Lambda's
SQS event, and deletes the messages it did not report in `batchItemFailures`. A failed
invocation deletes none: each comes back when its visibility timeout ends, as on AWS.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pointsnet.local.background import Background
from pointsnet.local.template import LocalStack, named_resources, resources_of_type

logger = logging.getLogger("pointsnet.local.queues")


@dataclass(frozen=True)
class QueueSubscription:
    """One `Type: SQS` event of a function in template.yaml."""

    function: str
    event: str
    queue: str
    batch_size: int = 10
    report_item_failures: bool = False

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"


def queue_subscriptions(
    template: Mapping[str, Any], stack: LocalStack | None = None
) -> list[QueueSubscription]:
    stack = stack or LocalStack()
    queues = named_resources(template, "AWS::SQS::Queue", stack)
    found = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            reference = props["Queue"]
            if not (isinstance(reference, dict) and "Fn::GetAtt" in reference):
                raise ValueError(f"{logical_id}.{event_name}: the queue must be !GetAtt X.Arn")
            found.append(
                QueueSubscription(
                    function=logical_id,
                    event=event_name,
                    queue=queues[reference["Fn::GetAtt"][0]],
                    batch_size=int(stack.resolve(props.get("BatchSize", 10), template)),
                    report_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                )
            )
    return found


def lambda_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received message as Lambda's SQS event carries it."""
    body = str(message["Body"])
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": dict(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def delete_messages(sqs: Any, queue_url: str, messages: Sequence[Mapping[str, Any]]) -> None:
    sqs.delete_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
        ],
    )


def polling(name: str, poll: Callable[[int], int], failed: str) -> Background:
    """A background thread that calls `poll(wait_seconds=1)` until it is stopped; a poll that
    fails is logged (as `failed`) and tried again a second later."""

    def run() -> None:
        while not thread.stopping.is_set():
            try:
                poll(1)
            except Exception:
                if thread.stopping.is_set():
                    return
                logger.exception(failed)
                thread.stopping.wait(1)

    thread = Background(name, run)
    return thread


class QueuePoller:
    def __init__(
        self,
        subscription: QueueSubscription,
        *,
        sqs: Any,
        invoke: Callable[[dict[str, Any]], Any],
        region: str,
    ) -> None:
        self.subscription = subscription
        self._sqs = sqs
        self._invoke = invoke
        self._region = region
        self._queue_url = ""
        self._queue_arn = ""
        self._thread = polling(
            f"local-queue-{subscription.name}", self.poll, f"polling {subscription.queue} failed"
        )

    def start(self) -> None:
        self._queue_url = self._sqs.get_queue_url(QueueName=self.subscription.queue)["QueueUrl"]
        self._queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()

    def poll(self, wait_seconds: int = 0) -> int:
        """One receive and its invocation; the number of messages received."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(10, self.subscription.batch_size),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        records = [lambda_record(m, self._queue_arn, self._region) for m in messages]
        try:
            answer = self._invoke({"Records": records})
        except Exception:
            logger.exception("%s failed; its messages come back", self.subscription.function)
            return len(messages)
        failed = set()
        if self.subscription.report_item_failures and isinstance(answer, Mapping):
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            delete_messages(self._sqs, self._queue_url, done)
        return len(messages)
