"""Events: every event the network publishes validates against its committed JSON Schema,
carries an id a consumer can drop duplicates by, and survives a failed publish."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from pointsnet.events.models import EVENT_MODELS
from pointsnet.events.outbox import Outbox
from pointsnet.events.schemas import schema_files
from pointsnet.events.settlement import publish_settlement_ready
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.wiring import default_event_bus
from tests.points_life import Life, life, set_policy, set_rules

__all__ = ["life"]

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


def committed_schema(event_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (SCHEMAS / f"{event_type}.schema.json").read_text(encoding="utf-8")
    )
    return schema


def test_the_committed_schemas_are_the_models() -> None:
    # Given the schemas generated from the event models; Then docs/events holds exactly them
    # When they are compared with the files committed there
    generated = schema_files()
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMAS.glob("*.json")}
    assert committed == generated, "docs/events is stale: python -m pointsnet.events.schemas"


def every_kind_of_event(life: Life) -> None:
    """Given a member who earns, captures, climbs a tier, is warned, loses points, falls,
    and goes 30 days without activity in a program with a comeback rule."""
    set_rules("STAR", {"rule_id": "back", "type": "comeback", "inactive_days": 30, "points": 10})
    set_policy(
        "starlodge",
        expiry={"kind": "after_earning", "months": 1, "notice_days": 7},
        tiers=[{"name": "member", "min_points": 0}, {"name": "silver", "min_points": 100}],
    )
    life.starlodge.earn("guest-1", 80, "stay-1")
    held = life.starlodge.earn("guest-1", 40, "stay-2", pending=True).body["transaction"]
    life.starlodge.call("POST", f"/v1/transactions/{held['transaction_id']}/capture")
    # January's lot expires 2025-03-01; its notice falls due on 2025-02-22
    life.sweep("points", at=life.clock.at(datetime(2025, 2, 22, 1, tzinfo=UTC)))
    life.sweep("points", at=life.clock.at(datetime(2025, 3, 1, 1, tzinfo=UTC)))
    life.sweep("points", at=life.clock.at(datetime(2026, 1, 1, 1, tzinfo=UTC)))
    publish_settlement_ready(
        settlement_id="stl_2025-03-01",
        period_start=date(2025, 3, 1),
        period_end=date(2025, 3, 1),
        currency="USD",
        status="draft",
        net_positions={"starlodge": Decimal("12.50"), "rideco": Decimal("-12.50")},
        occurred_at=datetime(2025, 3, 2, tzinfo=UTC),
        bus=default_event_bus(),
    )


def test_every_published_event_validates_against_its_schema(life: Life) -> None:
    # Given a member who earns, captures, climbs a tier, is warned, loses points, falls,
    # goes inactive, and a settlement made ready
    every_kind_of_event(life)
    # When the events function publishes the ledger's outbox
    published = life.events.publish()
    # Then each of the five types was published, from source pointsnet
    assert {event["detail-type"] for event in published} == set(EVENT_MODELS)
    assert {event["source"] for event in published} == {"pointsnet"}
    # And every detail validates against the committed schema of its type
    for event in published:
        schema = committed_schema(event["detail-type"])
        errors = list(Draft202012Validator(schema).iter_errors(event["detail"]))
        assert not errors, (event["detail-type"], [error.message for error in errors])
    assert [
        (event["data"]["transaction_type"], event["data"]["points"])
        for event in life.events.of_type("points.earned")
    ] == [("earn", 80), ("capture", 40)]
    settlements = life.events.of_type("settlement.ready")
    assert {(event["partner_id"], event["data"]["amount"]) for event in settlements} == {
        ("starlodge", "12.50"),
        ("rideco", "-12.50"),
    }


def test_a_redelivered_batch_carries_the_same_event_ids(life: Life) -> None:
    # Given a batch of stream records the events function already published
    life.starlodge.earn("guest-1", 10)
    records = life.events.stream_records()
    first = life.events.deliver(records)
    # When Lambda delivers the same batch again (a retry after a timeout)
    second = life.events.deliver(records)
    # Then the same events come out under the same ids: a consumer drops the repeat
    assert first == second == {"batchItemFailures": []}
    ids = [event["detail"]["id"] for event in life.events.received()]
    assert len(ids) == 2 and len(set(ids)) == 1


class RefusingBus:
    """EventBridge taking the first event of a batch and refusing the rest."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def put(self, events: list[Any]) -> list[int]:
        self.sent += events
        return list(range(1, len(events)))


def test_a_refused_event_resumes_the_stream_from_its_record(life: Life) -> None:
    # Given two earns in the stream
    life.starlodge.earn("guest-1", 10, "a")
    life.starlodge.earn("guest-1", 20, "b")
    records = [
        record
        for record in life.events.stream_records()
        if record["dynamodb"]["NewImage"]["sk"]["S"] == "ENTRY"
    ]
    # When the bus takes the first event and refuses the second
    answer = Outbox(RefusingBus(), LedgerStore.outbox_item).publish(records)  # type: ignore[arg-type]
    # Then Lambda is told to resume from the second record, so it is published again
    assert answer == {
        "batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]
    }
