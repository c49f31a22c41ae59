"""The sample events of events/: every function of template.yaml has one, each is shaped like
what its trigger delivers, and each, re-signed with the test network's keys, gets a real
answer from the function's real handler."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from bench.cold_start import FIRST_REQUEST_MODELS

from pointsnet.journal.layout import journal_shards, shard_of
from pointsnet.journal.reading import read_shard_day
from pointsnet.local.samples import (
    Sample,
    all_samples,
    find_sample,
    is_signed,
    key_choice,
    resign,
)
from pointsnet.local.template import find_route, functions, http_routes, load_handler
from pointsnet.model import Model
from pointsnet.partners.models import IssuedKey
from pointsnet.store.journal_bucket import JournalBucket, JournalHeads
from pointsnet.wiring import clear_caches, default_settlement_store
from tests.helpers import (
    PARTNER_FUNCTION_ENV as TEMPLATE_ENV,
)
from tests.helpers import (
    STACK,
    TEMPLATE,
    LambdaContextStub,
    Reply,
    catch_up_journal,
    subclasses_of,
)
from tests.points_life import LEDGER_TABLE, Life, life, set_policy
from tests.webhook_receiver import running_receiver

__all__ = ["life"]

SAMPLES = {sample.name: sample for sample in all_samples()}
FUNCTIONS = functions(TEMPLATE, STACK)
FUNCTION_BY_FOLDER = {spec.code_dir.name: logical_id for logical_id, spec in FUNCTIONS.items()}
RESOURCES = TEMPLATE["Resources"]
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


def events_of(logical_id: str, event_type: str) -> dict[str, dict[str, Any]]:
    events = RESOURCES[logical_id]["Properties"].get("Events", {})
    return {name: event for name, event in events.items() if event["Type"] == event_type}


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# the samples' shape


def test_every_function_of_the_template_has_a_sample() -> None:
    # Given the template's functions; Then each one's code folder holds at least one sample
    # When each function's code folder is looked for among the samples' folders
    folders = {sample.folder for sample in SAMPLES.values()}
    without = [
        logical_id for logical_id, spec in FUNCTIONS.items() if spec.code_dir.name not in folders
    ]
    assert not without, f"no sample in events/<code folder>/ for {without}"
    # And every folder of events/ is a function's code folder
    assert folders <= set(FUNCTION_BY_FOLDER)


def http_samples() -> list[Sample]:
    return [sample for sample in SAMPLES.values() if sample.load().get("version") == "2.0"]


@pytest.mark.parametrize("sample", http_samples(), ids=lambda sample: sample.name)
def test_an_http_sample_is_a_request_api_gateway_routes_to_its_function(sample: Sample) -> None:
    # Given an HTTP API (payload 2.0) sample
    event = sample.load()
    method, path = event["requestContext"]["http"]["method"], event["rawPath"]
    # When the template's routes are matched against it
    found = find_route(http_routes(TEMPLATE), method, path)
    # Then the route is one of its folder's function, with the route key and parameters it names
    assert found is not None
    route, parameters = found
    assert route.function == FUNCTION_BY_FOLDER[sample.folder]
    assert event["routeKey"] == event["requestContext"]["routeKey"] == route.route_key
    assert event.get("pathParameters", {}) == parameters
    # And it is signed (only health may go unsigned), with an Idempotency-Key on a POST
    assert is_signed(event) != (route.route_key == "GET /v1/health")
    assert (method == "POST") == ("idempotency-key" in event["headers"])


def schedules() -> list[Any]:
    return [
        pytest.param(logical_id, name, event, id=f"{logical_id}.{name}")
        for logical_id in FUNCTIONS
        for name, event in events_of(logical_id, "ScheduleV2").items()
    ]


@pytest.mark.parametrize(("logical_id", "event_name", "event"), schedules())
def test_a_schedule_sample_is_the_templates_input(
    logical_id: str, event_name: str, event: dict[str, Any]
) -> None:
    # Given a ScheduleV2 event of the template, its Input resolved with the default parameters
    folder = FUNCTIONS[logical_id].code_dir.name
    template_input = STACK.resolve(event["Properties"]["Input"], TEMPLATE)
    # When its sample is read (named after the event: SweepPoints -> sweep_points)
    sample = SAMPLES.get(f"{folder}/{snake_case(event_name)}")
    assert sample is not None, f"no sample events/{folder}/{snake_case(event_name)}.json"
    payload = sample.load()
    # Then it is that Input, the scheduled time (if any) a concrete RFC 3339 UTC time
    moment = payload.get("scheduled_time", SCHEDULED_TIME)
    assert payload == json.loads(template_input.replace(SCHEDULED_TIME, moment))
    if SCHEDULED_TIME in template_input:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", moment)
        assert datetime.fromisoformat(moment).tzinfo is not None


def matches_filter(pattern: Any, value: Any) -> bool:
    """An EventBridge-style filter pattern (exact values and `prefix`) against a record."""
    if isinstance(pattern, list):
        return any(
            isinstance(value, str) and value.startswith(option["prefix"])
            if isinstance(option, dict)
            else value == option
            for option in pattern
        )
    return isinstance(value, dict) and all(
        key in value and matches_filter(part, value[key]) for key, part in pattern.items()
    )


def test_the_stream_sample_is_a_batch_as_the_event_source_mapping_delivers_it() -> None:
    # Given the stream sample and the template's event source mapping for the events function
    (mapping,) = events_of(FUNCTION_BY_FOLDER["events"], "DynamoDB").values()
    filters = mapping["Properties"]["FilterCriteria"]["Filters"]
    # When the sample's records are read
    records = SAMPLES["events/ledger_stream"].load()["Records"]
    assert records
    for record in records:
        # Then each record has Lambda's fields for a DynamoDB stream record
        stream = record["dynamodb"]
        assert (record["eventVersion"], record["eventSource"]) == ("1.1", "aws:dynamodb")
        assert record["eventSourceARN"].startswith(f"arn:aws:dynamodb:{record['awsRegion']}:")
        assert isinstance(stream["ApproximateCreationDateTime"], int | float)
        assert stream["StreamViewType"] == "NEW_IMAGE"
        assert stream["Keys"] == {key: stream["NewImage"][key] for key in ("pk", "sk")}
        assert stream["SequenceNumber"].isdigit() and stream["SizeBytes"] > 0
        # And it is one the mapping's filter lets through
        assert any(matches_filter(json.loads(item["Pattern"]), record) for item in filters)


# each sample, invoked


@dataclass
class InvocationContext(LambdaContextStub):
    """A Lambda context with the function's own timeout ahead of it."""

    remaining_millis: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def timeout_seconds(logical_id: str) -> int:
    globals_timeout = int(TEMPLATE["Globals"]["Function"]["Timeout"])
    return int(RESOURCES[logical_id]["Properties"].get("Timeout", globals_timeout))


@dataclass
class Rig:
    """Invokes samples through their functions' handlers, re-signed with the network's keys."""

    life: Life

    def key_for(self, sample: Sample) -> IssuedKey:
        choice = key_choice(sample)
        network = self.life.network
        keys = (network.starlodge, network.rideco, network.finance, network.admin)
        return next(
            key
            for key in keys
            if key.role == choice.role and choice.partner_id in (None, key.partner_id)
        )

    def event(self, name: str) -> dict[str, Any]:
        sample = SAMPLES[name]
        event = sample.load()
        if not is_signed(event):
            return event
        key = self.key_for(sample)
        return resign(event, key.key_id, key.secret, time.time())

    def invoke(self, name: str) -> Any:
        logical_id = FUNCTION_BY_FOLDER[SAMPLES[name].folder]
        context = InvocationContext(
            function_name=logical_id, remaining_millis=timeout_seconds(logical_id) * 1000
        )
        return load_handler(FUNCTIONS[logical_id])(self.event(name), context)

    def http(self, name: str) -> Reply:
        result = self.invoke(name)
        text = result.get("body") or ""
        return Reply(result["statusCode"], dict(result.get("headers") or {}), json.loads(text))

    def created(self, name: str) -> dict[str, Any]:
        reply = self.http(name)
        assert reply.status == 201, reply.body
        body: dict[str, Any] = reply.body
        return body


def body_of(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(SAMPLES[name].load()["body"])
    return body


def member_of(name: str) -> str:
    return str(SAMPLES[name].load()["pathParameters"]["member_id"])


def earn(rig: Rig) -> None:
    # Given the demo network; When starlodge's earn sample is invoked
    reply = rig.http("partner_api/earn")
    # Then the member has earned the sample's points
    sent = body_of("partner_api/earn")
    assert reply.status == 201, reply.body
    transaction = reply.body["transaction"]
    assert (transaction["type"], transaction["status"]) == ("earn", "posted")
    assert transaction["points"] == sent["points"]
    assert (transaction["member_id"], transaction["reference"], transaction["partner_id"]) == (
        member_of("partner_api/earn"),
        sent["reference"],
        "starlodge",
    )
    assert reply.body["balance"] == {"program": "STAR", "available": sent["points"], "pending": 0}


def burn(rig: Rig) -> None:
    # Given the earn sample posted; When the burn sample is invoked
    rig.created("partner_api/earn")
    burned = rig.created("partner_api/burn")
    # Then the sample's points leave the balance
    earned, spent = body_of("partner_api/earn")["points"], body_of("partner_api/burn")["points"]
    assert (burned["transaction"]["type"], burned["transaction"]["points"]) == ("burn", spent)
    assert burned["balance"]["available"] == earned - spent


def get_member(rig: Rig) -> None:
    # Given the earn sample posted; When the member is read with the sample
    rig.created("partner_api/earn")
    reply = rig.http("partner_api/get_member")
    # Then it is the member the earn credited, with the earned points available
    assert reply.status == 200, reply.body
    assert reply.body["member_id"] == member_of("partner_api/earn")
    assert reply.body["balance"]["available"] == body_of("partner_api/earn")["points"]


def history(rig: Rig) -> None:
    # Given the earn and burn samples posted; When the history sample is invoked
    earned = rig.created("partner_api/earn")["transaction"]
    burned = rig.created("partner_api/burn")["transaction"]
    reply = rig.http("partner_api/history")
    # Then both transactions are listed, newest first
    assert reply.status == 200, reply.body
    assert [item["transaction_id"] for item in reply.body["items"]] == [
        burned["transaction_id"],
        earned["transaction_id"],
    ]


def health(rig: Rig) -> None:
    # When the unsigned health sample is invoked; Then the API says it is up
    reply = rig.http("partner_api/health")
    assert (reply.status, reply.body) == (200, {"status": "ok"})


def list_partners(rig: Rig) -> None:
    # Given the demo network; When the admin lists partners with the sample
    reply = rig.http("admin_api/list_partners")
    # Then the demo partners are listed with their programs
    assert reply.status == 200, reply.body
    programs = {item["partner_id"]: item.get("program") for item in reply.body["items"]}
    assert {programs.get("starlodge"), programs.get("rideco")} == {"STAR", "RIDE"}


def get_earning_rules(rig: Rig) -> None:
    # Given the demo network, whose STAR has no earning rules yet
    # When starlodge reads its rules with the programs sample
    reply = rig.http("programs_api/get_earning_rules")
    # Then the set in force is the empty one
    assert reply.status == 200, reply.body
    assert (reply.body["program"], reply.body["version"], reply.body["rules"]) == ("STAR", 0, [])


def create_partner(rig: Rig) -> None:
    # When the admin's create-partner sample is invoked
    created = rig.created("admin_api/create_partner")
    # Then the partner exists as the sample describes it
    sent = body_of("admin_api/create_partner")
    assert {key: created[key] for key in ("partner_id", "name", "program")} == {
        key: sent[key] for key in ("partner_id", "name", "program")
    }
    assert Decimal(created["point_value"]) == Decimal(sent["point_value"])
    listed = rig.http("admin_api/list_partners").body["items"]
    assert sent["partner_id"] in {item["partner_id"] for item in listed}


def yesterday() -> datetime:
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)


def owes_yesterday(life: Life) -> None:
    """Given rideco's rider-7 linked to starlodge's guest-42, earning 250 STAR yesterday."""
    proposal = life.rideco.call(
        "POST",
        "/v1/links",
        {"member_id": "rider-7", "partner_program": "STAR", "partner_member_id": "guest-42"},
    )
    assert proposal.status == 201, proposal.body
    confirmed = life.starlodge.call("POST", f"/v1/links/{proposal.body['link_id']}/confirm")
    assert confirmed.status == 201, confirmed.body
    life.clock.at(yesterday())
    earned = life.rideco.earn("rider-7", 250, "ride-1", program="STAR")
    assert earned.status == 201, earned.body
    catch_up_journal()


def scheduled(rig: Rig) -> None:
    owes_yesterday(rig.life)
    # When the schedule's payload invokes the reconciliation function
    result = rig.invoke("reconciliation/scheduled")
    # Then yesterday is settled: rideco owes starlodge for 250 STAR at 0.0025
    day = yesterday().date()
    assert result["complete"] is True, result
    assert (result["settlement_id"], result["status"]) == (
        f"stl_{day:%Y%m%d}_{day:%Y%m%d}",
        "draft",
    )
    settlement = default_settlement_store().get(result["settlement_id"])
    assert settlement is not None
    assert [
        (line.payer, line.payee, line.program, line.points, line.amount)
        for line in settlement.lines
    ] == [("rideco", "starlodge", "STAR", 250, Decimal("0.62"))]
    assert all(check.ok for check in settlement.checks)


def weekly_audit(rig: Rig) -> None:
    owes_yesterday(rig.life)
    # When the weekly audit's schedule payload invokes the reconciliation function
    result = rig.invoke("reconciliation/weekly_audit")
    # Then the table and the journal agree, and the report is kept under audits/
    assert (result["ok"], result["offending"]) == (True, 0), result
    assert result["report"].startswith("audits/")


def list_settlements(rig: Rig) -> None:
    # Given the schedule has settled yesterday into a draft
    owes_yesterday(rig.life)
    settled = rig.invoke("reconciliation/scheduled")
    # When finance lists draft settlements with the sample
    reply = rig.http("finance_api/list_settlements")
    # Then the draft is listed
    assert reply.status == 200, reply.body
    assert [(item["settlement_id"], item["status"]) for item in reply.body["items"]] == [
        (settled["settlement_id"], "draft")
    ]


def scheduled_time(name: str) -> datetime:
    return datetime.fromisoformat(str(SAMPLES[name].load()["scheduled_time"]))


def void_timed_out_holds(rig: Rig) -> None:
    # Given holds that time out after a day, and one placed two days before the sample's time
    life = rig.life
    moment = scheduled_time("lifecycle/void_timed_out_holds")
    set_policy("starlodge", hold_timeout_days=1)
    life.clock.at(moment - timedelta(days=2))
    held = life.starlodge.earn("guest-42", 120, "stay-9", pending=True)
    assert held.status == 201, held.body
    # When the schedule's payload invokes the lifecycle function
    report = rig.invoke("lifecycle/void_timed_out_holds")
    # Then the sweep ran as of the scheduled time and voided the hold
    assert (report["job"], report["holds_voided"], report["failed"]) == ("holds", 1, 0)
    assert datetime.fromisoformat(report["swept_at"]) == moment
    assert life.member(life.starlodge, "guest-42")["balance"]["pending"] == 0


def sweep_points(rig: Rig) -> None:
    # Given points that expire a month after the month they were earned, earned two months ago
    life = rig.life
    moment = scheduled_time("lifecycle/sweep_points")
    set_policy("starlodge", expiry={"kind": "after_earning", "months": 1})
    life.clock.at(moment - timedelta(days=60))
    assert life.starlodge.earn("guest-42", 100, "stay-8").status == 201
    # When the schedule's payload invokes the lifecycle function
    report = rig.invoke("lifecycle/sweep_points")
    # Then the sweep expired the lapsed lot, and the member has nothing left
    assert (report["job"], report["lots_expired"], report["failed"]) == ("points", 1, 0)
    assert life.available(life.starlodge, "guest-42") == 0


def ledger_stream(rig: Rig) -> None:
    # Given a listener on the network's bus; When the stream batch invokes the events function
    answer = rig.invoke("events/ledger_stream")
    # Then every record is published, and the earn's entry is on the bus as points.earned
    assert answer == {"batchItemFailures": []}
    published = rig.life.events.received()
    earn_image = SAMPLES["events/ledger_stream"].load()["Records"][0]["dynamodb"]["NewImage"]
    transaction = earn_image["transaction"]["M"]
    assert [(event["source"], event["detail-type"]) for event in published] == [
        ("pointsnet", "points.earned")
    ]
    detail = published[0]["detail"]
    assert detail["partner_id"] == transaction["partner_id"]["S"]
    assert detail["data"]["transaction_id"] == transaction["transaction_id"]["S"]
    assert (detail["data"]["member_id"], detail["data"]["points"]) == (
        transaction["member_id"]["S"],
        int(transaction["points"]["N"]),
    )
    assert detail["data"]["balance"]["available"] == int(
        earn_image["balance_after"]["M"]["available"]["N"]
    )


def journal_stream(rig: Rig) -> None:
    # Given the stream batch of the earn's and the burn's entries and balances
    # When it invokes the journal function
    answer = rig.invoke("journal/ledger_stream")
    # Then its four records are journaled in one object, under a whole chain
    assert answer == {"records": 4, "objects": 1}
    day = datetime(2025, 1, 10, tzinfo=UTC).date()
    shard = shard_of("member:starlodge:guest-42", journal_shards())
    read = read_shard_day(
        JournalBucket(TEMPLATE_ENV["JOURNAL_BUCKET"]),
        JournalHeads(TEMPLATE_ENV["SETTLEMENT_TABLE"]),
        day,
        shard,
    )
    assert read.problems == []
    assert [(record.entry.number if record.entry else None) for record in read.records] == [
        1,
        None,
        2,
        None,
    ]
    assert [record.balance.available for record in read.records if record.balance] == [100, 70]


def metrics_days(rig: Rig, name: str) -> list[str]:
    """Given an earn on each of 2025-01-09..11, journaled; the days the sample computes."""
    for number, day in enumerate((9, 10, 11)):
        rig.life.clock.at(datetime(2025, 1, day, 12, tzinfo=UTC))
        assert rig.life.starlodge.earn("guest-42", 10, f"stay-{number}").status == 201
    catch_up_journal()
    # When the sample invokes the metrics function
    result = rig.invoke(name)
    # Then it computed its days, each day's entries, for every program
    assert result["complete"] is True, result
    assert all(day["programs"] == ["RIDE", "STAR"] for day in result["days"])
    assert all(day["entries"] == 1 and day["journal_problems"] == 0 for day in result["days"])
    return [str(day["day"]) for day in result["days"]]


def daily_metrics(rig: Rig) -> None:
    # The schedule's payload at 2025-01-11T01:00Z computes 2025-01-10
    assert metrics_days(rig, "metrics/daily_metrics") == ["2025-01-10"]


def compute_day(rig: Rig) -> None:
    assert metrics_days(rig, "metrics/compute_day") == ["2025-01-10"]


def backfill(rig: Rig) -> None:
    assert metrics_days(rig, "metrics/backfill") == ["2025-01-09", "2025-01-10", "2025-01-11"]


def an_import(name: str) -> str:
    """Given the import a sample names, running, as the partner API leaves it once started."""
    from pointsnet.imports.models import ImportRecord, ImportStatus
    from pointsnet.store.import_store import ImportStore

    event = SAMPLES[name].load()
    import_id = str(event.get("import_id") or event["BatchInput"]["import_id"])
    ImportStore(TEMPLATE_ENV["DIRECTORY_TABLE"]).create(
        ImportRecord(
            import_id=import_id,
            partner_id="starlodge",
            program="STAR",
            status=ImportStatus.RUNNING,
            created_at=datetime.now(UTC),
        )
    )
    return import_id


def post_batch(rig: Rig) -> None:
    # Given the running import; When the batch sample invokes the import function
    an_import("imports/post_batch")
    answer = rig.invoke("imports/post_batch")
    # Then both rows posted as opening balances, the second into its lot
    assert answer == {"rows": 2, "posted": 2, "refused": 0}
    assert rig.life.available(rig.life.starlodge, "guest-1") == 1200
    member = rig.life.starlodge.get("/v1/members/guest-2").body
    assert [(lot["points"], lot["expires_at"][:10]) for lot in member["expiring"]] == [
        (300, "2027-12-31")
    ]


def finish(rig: Rig) -> None:
    # Given the running import with its batch posted; When the finish sample is invoked
    import_id = an_import("imports/finish")
    rig.invoke("imports/post_batch")
    answer = rig.invoke("imports/finish")
    # Then the import is completed with the batch's counts, and its result file is written
    assert answer == {"import_id": import_id, "status": "completed"}
    result = boto3.client("s3").get_object(
        Bucket=TEMPLATE_ENV["IMPORTS_BUCKET"],
        Key=f"imports/starlodge/{import_id}/refused.csv",
    )
    assert result["Body"].read().decode() == "line,member_id,reference,code,message\n"


def queue_batch(rig: Rig) -> None:
    # Given starlodge's receiver (the one docs/webhooks.md shows) and its webhook for
    # points.earned, on a local network's setting that allows loopback receivers
    with pytest.MonkeyPatch.context() as patch, running_receiver() as receiver:
        patch.setenv("WEBHOOK_LOOPBACK", "allowed")
        clear_caches()
        body = {"url": receiver.url, "events": ["points.earned"]}
        receiver.secret = rig.life.starlodge.call("PUT", "/v1/webhooks", body).body["secret"]
        # When the queue's batch invokes the webhook function
        answer = rig.invoke("webhooks/queue_batch")
        clear_caches()
    # Then its event was delivered, verified and handled, and nothing is left to retry
    assert answer == {"batchItemFailures": []}
    sent = json.loads(SAMPLES["webhooks/queue_batch"].load()["Records"][0]["body"])["detail"]
    assert receiver.handled == [sent]


SCENARIOS: dict[str, Callable[[Rig], None]] = {
    "partner_api/earn": earn,
    "partner_api/burn": burn,
    "partner_api/get_member": get_member,
    "partner_api/history": history,
    "partner_api/health": health,
    "admin_api/list_partners": list_partners,
    "admin_api/create_partner": create_partner,
    "finance_api/list_settlements": list_settlements,
    "programs_api/get_earning_rules": get_earning_rules,
    "reconciliation/scheduled": scheduled,
    "reconciliation/weekly_audit": weekly_audit,
    "lifecycle/void_timed_out_holds": void_timed_out_holds,
    "lifecycle/sweep_points": sweep_points,
    "events/ledger_stream": ledger_stream,
    "journal/ledger_stream": journal_stream,
    "metrics/daily_metrics": daily_metrics,
    "metrics/compute_day": compute_day,
    "metrics/backfill": backfill,
    "imports/post_batch": post_batch,
    "imports/finish": finish,
    "webhooks/queue_batch": queue_batch,
}


def test_every_sample_has_a_scenario_here() -> None:
    # Given the samples on disk; Then each is invoked below, and none is missing from disk
    # When they are compared with the scenarios of this file
    assert sorted(SCENARIOS) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_re_signed_sample_gets_a_real_answer_from_its_function(name: str, life: Life) -> None:
    # Given a sample event, its scenario here, and a network's life (the fixture)
    scenario = SCENARIOS.get(name)
    assert scenario is not None, f"events/{name}.json has no scenario in this file"
    built_before = built_models()
    # When the sample is re-signed and invoked on its function
    # Then the function gives the real answer the scenario expects
    scenario(Rig(life))
    # And every model it built on the way is one the cold-start bench builds for the function
    function = FUNCTION_BY_FOLDER[SAMPLES[name].folder]
    unbenched = built_models() - built_before - set(FIRST_REQUEST_MODELS[function])
    assert not unbenched, f"add {sorted(unbenched)} to bench/first_request_models.json"


def built_models() -> set[str]:
    """pointsnet's models whose validators are built, as "module:Model"."""
    return {
        f"{model.__module__}:{model.__qualname__}"
        for model in subclasses_of(Model)
        if model.__pydantic_complete__
    }


def without_times(image: dict[str, Any]) -> dict[str, Any]:
    """An entry's item without what depends on when it was posted."""
    transaction = {
        key: value for key, value in image["transaction"]["M"].items() if key != "created_at"
    }
    rest = {key: value for key, value in image.items() if key != "gsi1sk"}
    return rest | {"transaction": {"M": transaction}}


def test_the_stream_samples_entries_are_what_the_earn_and_burn_samples_write(life: Life) -> None:
    # Given the earn and burn samples posted through the partner function
    rig = Rig(life)
    rig.created("partner_api/earn")
    rig.created("partner_api/burn")
    # When the ledger's items named by the stream sample's records are read
    client = boto3.client("dynamodb")
    records = SAMPLES["events/ledger_stream"].load()["Records"]
    stored = [
        client.get_item(TableName=LEDGER_TABLE, Key=record["dynamodb"]["Keys"]).get("Item")
        for record in records
    ]
    # Then they are the records' images, but for when they were posted
    assert all(stored), "the stream sample names entries the samples no longer write"
    assert [without_times(item) for item in stored if item] == [
        without_times(record["dynamodb"]["NewImage"]) for record in records
    ], "the ledger writes other entries than the stream sample holds: rebuild its NewImages"


def test_a_sample_is_found_by_its_short_name() -> None:
    # Given a stem that names one sample; Then it is found as its full name is
    # When it is looked up by that stem and by its full name
    assert find_sample("earn") == find_sample("partner_api/earn") == SAMPLES["partner_api/earn"]
