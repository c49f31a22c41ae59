"""The webhook queue (SQS): an event that failed to deliver waits there until its next try."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

# SQS's longest visibility timeout; our longest wait is far shorter.
MAX_VISIBILITY_SECONDS = 43200


@cache
def sqs_client() -> Any:
    return boto3.client("sqs")


class WebhookQueue:
    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._urls: dict[str, str] = {}

    @property
    def client(self) -> Any:
        return self._client or sqs_client()

    def retry_later(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Keep the message hidden for `seconds`; reported as failed, it comes back then."""
        self.client.change_message_visibility(
            QueueUrl=self._url(queue_arn),
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
        )

    def _url(self, queue_arn: str) -> str:
        if queue_arn not in self._urls:
            _, _, _, _, account, name = queue_arn.split(":", 5)
            self._urls[queue_arn] = self.client.get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._urls[queue_arn]
