"""Webhooks: each partner's events, signed, to its own receiver only; retried with backoff for
24 hours under one event id; set, shown, rotated and removed through the partner API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics

from pointsnet.client import verify_webhook
from pointsnet.events.models import EVENT_MODELS
from pointsnet.local.emulator import create_queues, create_rules
from pointsnet.local.queues import QueuePoller, queue_subscriptions
from pointsnet.local.template import functions, load_handler
from pointsnet.store.webhook_sender import HttpSender
from pointsnet.store.webhook_store import WebhookStore, WebhookVault
from pointsnet.webhooks.delivery import RETRY_FOR, Deliverer, retry_delay
from pointsnet.webhooks.models import EventType
from pointsnet.wiring import clear_caches
from tests.helpers import STACK, TEMPLATE, LambdaContextStub, SignedCaller
from tests.integration.test_events import every_kind_of_event
from tests.points_life import DIRECTORY_TABLE, Life, life
from tests.webhook_receiver import Receiver, running_receiver

__all__ = ["life"]

ALL_TYPES = sorted(EVENT_MODELS)


@pytest.fixture
def loopback(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a local network's setting: receivers on loopback are allowed."""
    monkeypatch.setenv("WEBHOOK_LOOPBACK", "allowed")
    monkeypatch.setenv("POLICY_CACHE_SECONDS", "0")
    clear_caches()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    """Given two running receivers, the one docs/webhooks.md shows, for starlodge and rideco."""
    with running_receiver() as first, running_receiver() as second:
        yield first, second


class WebhookQueue:
    """The template's webhook queue and rule on moto, polled into the webhook function."""

    def __init__(self) -> None:
        create_queues(boto3.client("sqs"), TEMPLATE, STACK)
        create_rules(boto3.client("events"), TEMPLATE, STACK)
        handler = load_handler(functions(TEMPLATE, STACK)["WebhookFunction"])
        self.receipts: list[str] = []

        def invoke(event: dict[str, Any]) -> Any:
            self.receipts += [record["receiptHandle"] for record in event["Records"]]
            return handler(event, LambdaContextStub("WebhookFunction"))

        (subscription,) = queue_subscriptions(TEMPLATE, STACK)
        self.poller = QueuePoller(subscription, sqs=boto3.client("sqs"), invoke=invoke, region="")
        self.poller.start()
        self.poller.stop()  # started for its queue's URL and ARN; the test polls by hand
        self.sqs = boto3.client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=subscription.queue)["QueueUrl"]

    def drain(self) -> int:
        """Poll until nothing is visible; the messages received."""
        received = 0
        while count := self.poller.poll():
            received += count
        return received

    def waiting(self) -> int:
        """Messages hidden for their backoff."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def backoff_elapses(self) -> None:
        """What the backoff's wait would do: every hidden message is visible again."""
        for receipt in self.receipts:
            # A deleted message was delivered: nothing to show again.
            with contextlib.suppress(self.sqs.exceptions.ClientError):
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=receipt, VisibilityTimeout=0
                )
        self.receipts.clear()


def set_webhook(caller: SignedCaller, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    reply = caller.call("PUT", "/v1/webhooks", {"url": url, "events": events, **extra})
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


def test_the_subscribable_types_are_the_published_ones() -> None:
    # Given the event types a webhook may ask for; When compared with those the network
    # publishes; Then they are the same
    assert sorted(EventType.__args__) == ALL_TYPES  # type: ignore[attr-defined]


def test_each_partner_receives_its_own_events_signed_and_only_its_own(
    loopback: None, life: Life, receivers: tuple[Receiver, Receiver]
) -> None:
    # Given starlodge's and rideco's receivers, each with a webhook for every event type
    star, ride = receivers
    star.secret = set_webhook(life.starlodge, star.url, ALL_TYPES)["secret"]
    ride.secret = set_webhook(life.rideco, ride.url, ALL_TYPES)["secret"]
    queue = WebhookQueue()
    # When every kind of event is published and the webhook queue is delivered
    every_kind_of_event(life)
    published = life.events.publish()
    queue.drain()
    # Then starlodge's receiver verified and handled one of each type, all about starlodge
    assert star.refused == 0 and ride.refused == 0
    assert sorted({event["type"] for event in star.handled}) == ALL_TYPES
    assert {event["partner_id"] for event in star.handled} == {"starlodge"}
    # And rideco's receiver got exactly rideco's events: its settlement position, no more
    rideco_events = [e["detail"]["id"] for e in published if e["detail"]["partner_id"] == "rideco"]
    assert [event["id"] for event in ride.handled] == rideco_events
    assert [event["type"] for event in ride.handled] == ["settlement.ready"]
    # And each delivery's X-PN-Event-Id is its event's id
    assert [a["x-pn-event-id"] for a in star.arrivals] == [e["id"] for e in star.handled]
    # And the webhook shows each delivered once
    shown = life.starlodge.get("/v1/webhooks").body
    assert "secret" not in shown
    assert len(shown["deliveries"]) == len(star.handled)
    assert {(d["status"], d["attempts"]) for d in shown["deliveries"]} == {("delivered", 1)}


def test_a_delivery_sent_again_is_handled_once(
    loopback: None, life: Life, receivers: tuple[Receiver, Receiver]
) -> None:
    # Given starlodge's receiver and webhook for points.earned, and an earn delivered
    star, _ = receivers
    star.secret = set_webhook(life.starlodge, star.url, ["points.earned"])["secret"]
    queue = WebhookQueue()
    life.starlodge.earn("guest-1", 50, "stay-1")
    records = life.events.stream_records()
    life.events.deliver(records)
    queue.drain()
    # When the same stream records are published again (a retried batch) and delivered
    life.events.deliver(records)
    queue.drain()
    # Then the receiver got the event twice under one X-PN-Event-Id and handled it once
    assert len(star.arrivals) == 2
    assert star.arrivals[0]["x-pn-event-id"] == star.arrivals[1]["x-pn-event-id"]
    assert [event["type"] for event in star.handled] == ["points.earned"]


def test_a_failing_receiver_gets_the_same_event_after_its_backoff(
    loopback: None, life: Life, receivers: tuple[Receiver, Receiver]
) -> None:
    # Given starlodge's receiver, failing, and its webhook for points.earned
    star, _ = receivers
    star.secret = set_webhook(life.starlodge, star.url, ["points.earned"])["secret"]
    star.failing = True
    queue = WebhookQueue()
    life.starlodge.earn("guest-1", 50, "stay-1")
    life.events.publish()
    # When the queue is delivered
    before = datetime.now(UTC)
    queue.drain()
    # Then the event waits in the queue, hidden for its first backoff, and shows retrying
    assert queue.waiting() == 1
    (delivery,) = life.starlodge.get("/v1/webhooks").body["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        "retrying",
        1,
        503,
    )
    due = datetime.fromisoformat(delivery["next_attempt_at"])
    assert before + timedelta(seconds=59) <= due <= datetime.now(UTC) + timedelta(seconds=61)
    # When the receiver recovers and the backoff elapses
    star.failing = False
    queue.backoff_elapses()
    assert queue.drain() == 1
    # Then the second try delivered it under the first try's event id
    assert len(star.arrivals) == 2
    assert star.arrivals[0]["x-pn-event-id"] == star.arrivals[1]["x-pn-event-id"]
    assert [event["type"] for event in star.handled] == ["points.earned"]
    (delivery,) = life.starlodge.get("/v1/webhooks").body["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
    assert queue.waiting() == 0


class SteppedClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_a_receiver_that_never_answers_2xx_is_dropped_after_24_hours(
    loopback: None, life: Life, receivers: tuple[Receiver, Receiver]
) -> None:
    # Given starlodge's failing receiver and a deliverer on a clock the test moves
    star, _ = receivers
    star.secret = set_webhook(life.starlodge, star.url, ["points.earned"])["secret"]
    star.failing = True
    first = datetime(2026, 12, 1, 9, tzinfo=UTC)
    clock = SteppedClock(first)
    counted = Metrics(namespace="WebhookTest")
    deliverer = Deliverer(
        WebhookStore(DIRECTORY_TABLE),
        WebhookVault(life_secret_prefix(), cache_seconds=0),
        HttpSender(),
        allow_loopback=True,
        clock=clock,
        run_metrics=counted,
    )
    life.starlodge.earn("guest-1", 50, "stay-1")
    (event,) = [e["detail"] for e in life.events.publish() if e["detail-type"] == "points.earned"]
    # When each try is made when the one before said, until the deliverer gives up
    waits = []
    while (outcome := deliverer.deliver(event, len(waits) + 1, first)).result == "retry":
        waits.append(outcome.retry_in_seconds)
        clock.now += timedelta(seconds=outcome.retry_in_seconds)
    # Then the waits doubled from a minute, to at most two hours, the last try at 24 hours
    assert outcome.result == "dropped"
    assert waits[:8] == [retry_delay(n) for n in range(1, 9)] == [
        60, 120, 240, 480, 960, 1920, 3840, 7200
    ]  # fmt: skip
    assert max(waits) == 7200
    assert clock.now == first + RETRY_FOR
    # And every try reached the receiver with the same event id
    assert len(star.arrivals) == len(waits) + 1
    assert {arrival["x-pn-event-id"] for arrival in star.arrivals} == {event["id"]}
    # And the delivery shows dropped after its tries, and was counted
    (delivery,) = life.starlodge.get("/v1/webhooks").body["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("dropped", len(waits) + 1)
    assert counted.metric_set["WebhookDeliveriesDropped"]["Value"] == [1.0]


def life_secret_prefix() -> str:
    return str(functions(TEMPLATE, STACK)["WebhookFunction"].environment["WEBHOOK_SECRET_PREFIX"])


def test_the_secret_is_shown_once_and_a_rotation_signs_with_both_for_a_day(
    loopback: None, life: Life, receivers: tuple[Receiver, Receiver]
) -> None:
    # Given starlodge's webhook, created
    star, _ = receivers
    created = set_webhook(life.starlodge, star.url, ["points.earned"])
    old = created["secret"]
    # When it is changed without a rotation, and read
    changed = set_webhook(life.starlodge, star.url, ["points.earned", "points.expired"])
    shown = life.starlodge.get("/v1/webhooks").body
    # Then neither answer shows a secret, and the change is kept under the same id
    assert "secret" not in changed and "secret" not in shown
    assert shown["events"] == ["points.earned", "points.expired"]
    assert shown["webhook_id"] == created["webhook_id"]
    # When the secret is rotated and an event delivered
    rotated = set_webhook(life.starlodge, star.url, ["points.earned"], rotate_secret=True)
    new = rotated["secret"]
    assert new != old
    star.secret = new
    queue = WebhookQueue()
    life.starlodge.earn("guest-1", 50, "stay-1")
    life.events.publish()
    queue.drain()
    # Then the delivery carries one signature per secret, and verifies with either
    (arrival,) = star.arrivals
    assert len(arrival["x-pn-webhook-signature"].split(",")) == 2
    assert star.refused == 0 and len(star.handled) == 1
    body = star.handled[0]
    assert body["type"] == "points.earned"


def test_a_signature_for_another_body_or_an_old_timestamp_is_refused() -> None:
    # Given a delivery signed at a moment with a secret
    from pointsnet.client import WebhookRefused
    from pointsnet.signing import webhook_signature

    body = b'{"id":"evt_x","type":"points.earned"}'
    headers = {"X-PN-Timestamp": "1764770000", "X-PN-Webhook-Signature": ""}
    headers["X-PN-Webhook-Signature"] = webhook_signature("whsec_a", "1764770000", body)
    # When it is verified as sent, with another body, another secret, or much later
    # Then only the first verifies
    assert verify_webhook("whsec_a", headers, body, now=1764770010)["id"] == "evt_x"
    for secret, sent, now in (
        ("whsec_a", body.replace(b"evt_x", b"evt_y"), 1764770010),
        ("whsec_b", body, 1764770010),
        ("whsec_a", body, 1764770000 + 301),
    ):
        with pytest.raises(WebhookRefused):
            verify_webhook(secret, headers, sent, now=now)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "http://93.184.216.34/hooks",
        "ftp://93.184.216.34/hooks",
        "https://user:pass@93.184.216.34/hooks",
        "not a url",
    ],
)
def test_a_url_that_could_reach_inside_the_network_is_refused(
    starlodge: SignedCaller, url: str
) -> None:
    # Given the deployed setting (no loopback receivers)
    # When starlodge sets a webhook to a private, loopback, link-local or plain-http URL
    reply = starlodge.call("PUT", "/v1/webhooks", {"url": url, "events": ["points.earned"]})
    # Then it is refused, saying why, and no webhook exists
    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_error"
    assert starlodge.get("/v1/webhooks").status == 404


def test_a_public_https_url_is_taken(starlodge: SignedCaller) -> None:
    # Given the deployed setting; When starlodge sets a webhook to a public address over https
    body = {"url": "https://93.184.216.34/hooks", "events": ["settlement.ready"]}
    reply = starlodge.call("PUT", "/v1/webhooks", body)
    # Then it is created, with its secret shown this once
    assert reply.status == 200, reply.body
    assert reply.body["secret"].startswith("whsec_")
    assert reply.body["webhook_id"].startswith("wh_")


@pytest.mark.parametrize(
    "events", [[], ["points.nope"], ["points.earned", "points.earned"], "points.earned"]
)
def test_unknown_or_repeated_event_types_are_refused(starlodge: SignedCaller, events: Any) -> None:
    # Given a public https URL
    # When starlodge asks there for no type, an unknown one, one twice, or a bare string
    body = {"url": "https://93.184.216.34/hooks", "events": events}
    reply = starlodge.call("PUT", "/v1/webhooks", body)
    # Then the webhook is refused as invalid
    assert reply.status == 422, reply.body
    assert reply.body["error"]["code"] == "validation_error"


def test_a_removed_webhook_gets_nothing_more(
    loopback: None, life: Life, receivers: tuple[Receiver, Receiver]
) -> None:
    # Given starlodge's webhook, then removed
    star, _ = receivers
    star.secret = set_webhook(life.starlodge, star.url, ["points.earned"])["secret"]
    removed = life.starlodge.call("DELETE", "/v1/webhooks")
    assert removed.status == 200 and removed.body["deleted"] is True
    queue = WebhookQueue()
    # When an event is published and the queue delivered
    life.starlodge.earn("guest-1", 50, "stay-1")
    life.events.publish()
    queue.drain()
    # Then nothing arrived, the webhook is gone, and removing it again is not found
    assert star.arrivals == []
    assert life.starlodge.get("/v1/webhooks").status == 404
    assert life.starlodge.call("DELETE", "/v1/webhooks").status == 404


def test_two_first_puts_at_once_make_one_webhook_with_one_secret(
    loopback: None, life: Life
) -> None:
    # Given starlodge's webhook just created by one PUT, and a second PUT that read before it
    from pointsnet.auth.caller import Caller, Role
    from pointsnet.webhooks.models import WebhookSettings
    from pointsnet.webhooks.service import Webhooks

    store, vault = (
        WebhookStore(DIRECTORY_TABLE),
        WebhookVault(life_secret_prefix(), cache_seconds=0),
    )
    first = set_webhook(life.starlodge, "http://127.0.0.1:9/first", ["points.earned"])
    reads = iter([None])
    read = store.get
    store.get = lambda partner_id: next(reads, read(partner_id))  # type: ignore[method-assign]
    late = Webhooks(store, vault, allow_loopback=True)
    caller = Caller(partner_id="starlodge", key_id="k", role=Role.PARTNER, program="STAR")
    # When the second PUT goes on to create it
    second = late.configure(
        caller, WebhookSettings(url="http://127.0.0.1:9/second", events=["points.expired"])
    )
    # Then it changed the one webhook instead, showing no secret of its own
    assert second.webhook_id == first["webhook_id"] and second.secret is None
    shown = life.starlodge.get("/v1/webhooks").body
    assert (shown["url"], shown["events"]) == ("http://127.0.0.1:9/second", ["points.expired"])
    # And the first PUT's secret is still the one that signs
    held = vault.get(first["webhook_id"])
    assert held is not None and held.current == first["secret"]
    # And no secret was left behind for a webhook that was never stored
    secrets = boto3.client("secretsmanager").list_secrets()["SecretList"]
    assert [s["Name"] for s in secrets if "webhooks/" in s["Name"]] == [
        vault.name(first["webhook_id"])
    ]
