"""Every event published to the network's bus, appended to `.pointsnet/events.jsonl`.

Locally the bus gets one more rule than the template declares: it sends every event to an
SQS queue of the emulator's, which this module drains into the file, one EventBridge event
(as a rule's target receives it) per line. `pointsnet events tail` reads that file.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pointsnet.local.queues import delete_messages, polling

TAP_NAME = "pointsnet-local-event-log"
# Every event on the bus is the account's own.
TAP_PATTERN = '{"account": [{"exists": true}]}'


class EventLog:
    """A thread that moves the bus's events from the tap queue to the file."""

    def __init__(self, path: Path, *, events: Any, sqs: Any, bus_name: str) -> None:
        self.path = path
        self._events, self._sqs = events, sqs
        self._bus_name = bus_name
        self._queue_url = ""
        self._thread = polling("local-event-log", self._move, "reading the event log failed")
        self._lock = threading.Lock()
        self.written = 0

    def start(self) -> None:
        self._queue_url = self._sqs.create_queue(QueueName=TAP_NAME)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self._events.put_rule(
            Name=TAP_NAME,
            EventBusName=self._bus_name,
            EventPattern=TAP_PATTERN,
            Description="Local only: every event, for .pointsnet/events.jsonl",
        )
        self._events.put_targets(
            Rule=TAP_NAME,
            EventBusName=self._bus_name,
            Targets=[{"Id": "event-log", "Arn": queue_arn}],
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._thread.start()

    def stop(self) -> None:
        self._thread.stop()
        self.drain()

    def drain(self) -> int:
        """Move what the queue holds now into the file; the number of events written."""
        moved = 0
        while batch := self._move(0):
            moved += batch
        return moved

    def _move(self, wait_seconds: int) -> int:
        """One receive from the tap queue, appended to the file; the number of events moved."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        if messages:
            with self._lock:
                self._append(messages)
        return len(messages)

    def _append(self, messages: list[dict[str, Any]]) -> None:
        lines = []
        for message in messages:
            try:
                event = json.loads(message["Body"])
            except ValueError:
                event = {"body": message["Body"]}
            lines.append(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n")
        # One write per batch, appended: a reader tailing the file sees whole lines.
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))
        delete_messages(self._sqs, self._queue_url, messages)
        self.written += len(messages)
