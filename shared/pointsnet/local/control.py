"""The local runtime's own endpoints, under `/_local/` on the local API (never deployed).

`GET /_local/schedules` lists the schedules with their next run; `POST
/_local/schedules/{name}/run` fires one now and answers what its run did; `GET
/_local/streams` shows where each stream consumer has got to. `pointsnet schedules` calls
them. Errors use the API's envelope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from pointsnet.errors import NotFound, RouteNotFound
from pointsnet.local.gateway import HttpResponse, error_response
from pointsnet.local.schedules import LocalScheduler, ScheduleNotFound
from pointsnet.local.streams import StreamConsumer


class LocalControl:
    def __init__(
        self, scheduler: LocalScheduler | None, consumers: Sequence[StreamConsumer]
    ) -> None:
        self.scheduler = scheduler
        self.consumers = consumers

    def __call__(self, method: str, path: str, body: bytes) -> HttpResponse:
        if method == "GET" and path == "/_local/schedules":
            schedules = self.scheduler.schedules() if self.scheduler else []
            return _json(200, {"items": [schedule.describe() for schedule in schedules]})
        run = re.fullmatch(r"/_local/schedules/([^/]+)/run", path)
        if method == "POST" and run:
            if self.scheduler is None:
                return error_response(NotFound("the local scheduler is not running"))
            try:
                outcome = self.scheduler.run_now(unquote(run.group(1)))
            except ScheduleNotFound as exc:
                return error_response(NotFound(str(exc)))
            return _json(200, outcome)
        if method == "GET" and path == "/_local/streams":
            return _json(200, {"items": [_consumer_view(consumer) for consumer in self.consumers]})
        return error_response(RouteNotFound(f"no route {method} {path}"))


def _consumer_view(consumer: StreamConsumer) -> dict[str, Any]:
    return {
        "name": consumer.subscription.name,
        "function": consumer.subscription.function,
        "table": consumer.table_name,
        "position": consumer.position,
        "batches_delivered": consumer.batches_delivered,
        "batches_failed": consumer.batches_failed,
    }


def _json(status: int, body: Any) -> HttpResponse:
    text = json.dumps(body, default=str).encode("utf-8")
    return HttpResponse(status, [("Content-Type", "application/json")], text)
