"""Where the network's events go: `pointsnet.store.event_bus.EventBus` on EventBridge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pointsnet.events.models import NetworkEvent


class EventPublisher(Protocol):
    def put(self, events: Sequence[NetworkEvent]) -> list[int]:
        """Send the events; returns the indexes of those not taken."""
        ...
