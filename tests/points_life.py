"""Test support for the life of a point: a controlled clock, the scheduled sweeps and the outbox.

The partner API runs with a ledger on a clock the test moves; the lifecycle and events
functions are the template's own handlers: a sweep is told its time by its event (as
EventBridge Scheduler tells it), and the outbox is the ledger table's stream, read from moto
and handed to the events function, which publishes to the template's bus on moto. A rule on
that bus delivers every event to a queue the test reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.dynamodb.models import dynamodb_backends

from pointsnet.api.partner import create_partner_app
from pointsnet.ledger.check import LedgerCheck, check_ledger
from pointsnet.ledger.service import Ledger
from pointsnet.local.streams import lambda_record
from pointsnet.local.template import functions, load_handler
from pointsnet.network.cross_partner import CrossPartnerLedger
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.pricing import Pricing
from pointsnet.network.rates import Rates
from pointsnet.programs.policy import PolicyBook, ProgramPolicy, StoredPolicy
from pointsnet.rules.book import RuleBook
from pointsnet.rules.models import RuleSet, StoredRuleSet
from pointsnet.rules.pricing import RulePricer
from pointsnet.rules.referrals import Referrals
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.store.network_store import NetworkStore
from pointsnet.store.policy_store import PolicyStore
from pointsnet.store.referral_store import ReferralStore
from pointsnet.store.rules_store import RulesStore
from pointsnet.wiring import default_key_resolver
from tests.helpers import (
    PARTNER_FUNCTION_ENV,
    STACK,
    TEMPLATE,
    DemoNetwork,
    LambdaContextStub,
    SignedCaller,
)

# Day 0 of every scenario: a Friday in January, mid-morning UTC.
DAY_0 = datetime(2025, 1, 10, 10, 0, tzinfo=UTC)
LEDGER_TABLE = PARTNER_FUNCTION_ENV["LEDGER_TABLE"]
DIRECTORY_TABLE = PARTNER_FUNCTION_ENV["DIRECTORY_TABLE"]
EVENT_BUS = PARTNER_FUNCTION_ENV["EVENT_BUS_NAME"]


@dataclass
class SweepContext(LambdaContextStub):
    """A lifecycle invocation with its 300 s timeout ahead of it."""

    function_name: str = "LifecycleFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class Clock:
    now: datetime = DAY_0

    def __call__(self) -> datetime:
        return self.now

    def day(self, number: int, hour: int = 10) -> datetime:
        """Move to day `number` of the scenario."""
        self.now = DAY_0.replace(hour=hour) + timedelta(days=number)
        return self.now

    def at(self, moment: datetime) -> datetime:
        self.now = moment
        return self.now


def set_policy(partner_id: str, **policy: Any) -> ProgramPolicy:
    """Given a program policy, stored in the directory as the admin API stores it."""
    parsed = ProgramPolicy.model_validate(policy)
    PolicyStore(DIRECTORY_TABLE).put_policy(StoredPolicy(partner_id=partner_id, policy=parsed))
    return parsed


def set_rules(program: str, *rules: dict[str, Any]) -> StoredRuleSet:
    """Given a program's earning rules, validated and stored as the programs API stores them."""
    store = RulesStore(DIRECTORY_TABLE)
    parsed = RuleSet.model_validate({"rules": list(rules)})
    current = store.get_rules(program) or StoredRuleSet.empty(program)
    stored = StoredRuleSet(program=program, version=current.version + 1, rules=parsed.rules)
    store.put_rules(stored)
    return stored


def ledger_check() -> LedgerCheck:
    store = LedgerStore(LEDGER_TABLE)
    return check_ledger(store.scan(lots_and_holds=True), lots_and_holds=True)


@dataclass
class Events:
    """What the events function published to the bus, read from a queue a rule feeds."""

    queue_url: str
    stream_position: int = 0
    published: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def listen(cls) -> Events:
        boto3.client("events").create_event_bus(Name=EVENT_BUS)
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="published-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = boto3.client("events")
        events.put_rule(
            Name="everything", EventBusName=EVENT_BUS, EventPattern='{"source": ["pointsnet"]}'
        )
        events.put_targets(
            Rule="everything", EventBusName=EVENT_BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        return cls(queue_url=queue_url)

    def stream_records(self) -> list[dict[str, Any]]:
        """The ledger table's stream records not read yet, as Lambda receives them."""
        table = dynamodb_backends[STACK.account][STACK.region].get_table(LEDGER_TABLE)
        assert table.stream_shard is not None
        records = [
            lambda_record(record.to_json(), table.latest_stream_label or "")
            for record in table.stream_shard.items
        ]
        fresh = records[self.stream_position :]
        self.stream_position = len(records)
        return fresh

    def deliver(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        handler = load_handler(functions(TEMPLATE, STACK)["EventsFunction"])
        result: dict[str, Any] = handler({"Records": records}, LambdaContextStub("EventsFunction"))
        return result

    def journal(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Run the journal function over stream records, as the stream's mapping would."""
        handler = load_handler(functions(TEMPLATE, STACK)["JournalFunction"])
        result: dict[str, Any] = handler({"Records": records}, LambdaContextStub("JournalFunction"))
        return result

    def publish(self) -> list[dict[str, Any]]:
        """Run the events function over the new stream records; the events it published."""
        result = self.deliver(self.stream_records())
        assert result == {"batchItemFailures": []}
        return self.received()

    def received(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        fresh: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                fresh.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.published += fresh
        return fresh

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        """The details of every published event of one type, in publication order."""
        return [event["detail"] for event in self.published if event["detail-type"] == event_type]


@dataclass
class Life:
    """The demo network on a controlled clock, with its sweeps and its outbox."""

    clock: Clock
    network: DemoNetwork
    events: Events
    ledger: CrossPartnerLedger
    starlodge: SignedCaller
    rideco: SignedCaller

    def sweep(self, job: str = "all", at: datetime | None = None) -> dict[str, Any]:
        """Run the lifecycle function as the schedule would, at `at` (default: the clock)."""
        handler = load_handler(functions(TEMPLATE, STACK)["LifecycleFunction"])
        moment = (at or self.clock()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        report: dict[str, Any] = handler({"job": job, "scheduled_time": moment}, SweepContext())
        assert report["failed"] == 0, report
        return report

    def member(self, caller: SignedCaller, member_id: str) -> dict[str, Any]:
        reply = caller.get(f"/v1/members/{member_id}")
        assert reply.status == 200, reply.body
        body: dict[str, Any] = reply.body
        return body

    def available(self, caller: SignedCaller, member_id: str) -> int:
        return int(self.member(caller, member_id)["balance"]["available"])


def clocked_ledger(clock: Clock) -> CrossPartnerLedger:
    """The ledger the default wiring builds, on the test's clock, reading policies uncached."""
    network = NetworkStore(LEDGER_TABLE, DIRECTORY_TABLE)
    book = RuleBook(RulesStore(DIRECTORY_TABLE), cache_seconds=0)
    ledger = Ledger(
        LedgerStore(LEDGER_TABLE),
        clock=clock,
        policies=PolicyBook(PolicyStore(DIRECTORY_TABLE), cache_seconds=0),
        rules=RulePricer(book),
    )
    ledger.follow_ups = Referrals(ReferralStore(LEDGER_TABLE), ledger.engine, book, clock=clock)
    return CrossPartnerLedger(ledger, network, Pricing(network, DirectoryStore(DIRECTORY_TABLE)))


def clocked_partner(ledger: CrossPartnerLedger, key: Any) -> SignedCaller:
    """A partner calling the partner API whose ledger (and exchanges) run on the test's clock."""
    network = ledger.network
    exchanges = Exchanges(
        engine=ledger.ledger.engine,
        network=network,
        rates=Rates(network, clock=ledger.ledger.clock),
        pricing=ledger.pricing,
        quote_ttl=timedelta(seconds=60),
    )
    referrals = ledger.ledger.follow_ups
    assert isinstance(referrals, Referrals)
    app = create_partner_app(
        ledger=lambda: ledger,
        exchanges=lambda: exchanges,
        keys=default_key_resolver,
        referrals=lambda: referrals,
    )
    return SignedCaller(lambda event, _: app.resolve(event, LambdaContextStub()), key)


@pytest.fixture
def life(network: DemoNetwork) -> Life:
    """Given the demo network on a clock at day 0, its sweeps, and a listener on its bus."""
    clock = Clock()
    ledger = clocked_ledger(clock)
    return Life(
        clock=clock,
        network=network,
        events=Events.listen(),
        ledger=ledger,
        starlodge=clocked_partner(ledger, network.starlodge),
        rideco=clocked_partner(ledger, network.rideco),
    )
