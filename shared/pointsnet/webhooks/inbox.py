"""The webhook queue's batches: each message is an event the bus routed to it, tried once.

A message whose delivery must be tried again is hidden for its backoff and reported as a
batch item failure, so SQS gives it back then (and counts the receive: that is the attempt
number); one delivered, dropped or for no webhook is done and deleted. A message that cannot
be read fails like any other and, past the queue's receive limit, lands in its dead-letter
queue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from pointsnet.webhooks.delivery import Deliverer
from pointsnet.webhooks.ports import RetryQueue


class DeliveryPending(Exception):
    """Not delivered yet: the message comes back after its backoff."""


class WebhookInbox:
    def __init__(self, deliverer: Deliverer, queue: RetryQueue) -> None:
        self.deliverer = deliverer
        self.queue = queue

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        response = process_partial_response(
            event=event,
            record_handler=self._deliver,
            processor=BatchProcessor(event_type=EventType.SQS),
            context=context,
        )
        return dict(response)

    def _deliver(self, record: SQSRecord) -> str:
        published = json.loads(record.body)
        attributes = record.attributes
        attempt = int(attributes.approximate_receive_count or 1)
        first_sent = datetime.fromtimestamp(int(attributes.sent_timestamp) / 1000, UTC)
        outcome = self.deliverer.deliver(published["detail"], attempt, first_sent)
        if outcome.result == "retry":
            self.queue.retry_later(
                record.event_source_arn, record.receipt_handle, outcome.retry_in_seconds
            )
            raise DeliveryPending(
                f"{published['detail']['id']}: again in {outcome.retry_in_seconds} s"
            )
        return outcome.result
