"""The network's EventBridge bus: the one place events are sent to AWS."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from pointsnet.events.models import SOURCE, NetworkEvent
from pointsnet.store.dynamo import translate_client_error

# PutEvents takes at most this many entries per call.
MAX_ENTRIES = 10


@cache
def events_client() -> Any:
    return boto3.client("events", config=Config(retries={"mode": "standard", "max_attempts": 4}))


class EventBus:
    def __init__(self, bus_name: str, client: Any = None) -> None:
        self.bus_name = bus_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or events_client()

    def put(self, events: Sequence[NetworkEvent]) -> list[int]:
        """Send the events; returns the indexes of those EventBridge did not take."""
        failed: list[int] = []
        for start in range(0, len(events), MAX_ENTRIES):
            chunk = events[start : start + MAX_ENTRIES]
            entries = [
                {
                    "Source": SOURCE,
                    "DetailType": event.type,
                    "Detail": event.model_dump_json(),
                    "Time": event.occurred_at,
                    "EventBusName": self.bus_name,
                }
                for event in chunk
            ]
            try:
                response = self.client.put_events(Entries=entries)
            except ClientError as exc:
                raise translate_client_error(exc) from exc
            for offset, result in enumerate(response.get("Entries", [])):
                if result.get("ErrorCode"):
                    failed.append(start + offset)
        return failed
