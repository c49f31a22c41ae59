"""The undo log's TransactWriteItems shows boto3 exactly what moto's own method shows.

Every scenario runs twice on the same inputs, once on `moto_transactions`' undo log and once on
moto's snapshot-per-table method, each in a fresh `mock_aws()`; the tests compare what boto3
reads back (errors, cancellation reasons, items, index, item counts, stream records), so they
pin moto's semantics rather than our reading of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from pointsnet.local import moto_transactions
from pointsnet.local.moto_transactions import moto_semantics
from tests.conftest import FAKE_AWS

Item = dict[str, Any]
Action = dict[str, Any]
Outcome = dict[str, Any] | None

LEDGER = "Ledger"  # hash + range key, a GSI and a NEW_IMAGE stream
IDEMPOTENCY = "Idempotency"  # hash key only, no stream
BY_OWNER = "by_owner"
OWNERS = ("alice", "bob", "carol")
HASH_KEY = {LEDGER: "pk", IDEMPOTENCY: "id"}
EXISTS = "attribute_exists(#hash)"
ABSENT = "attribute_not_exists(#hash)"
MULTIPLE_OPERATIONS = "Transaction request cannot include multiple operations on one item"


def use_fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, and no endpoint that would route boto3 off moto."""
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given fake credentials and region (see `use_fake_aws`)."""
    use_fake_aws(monkeypatch)


def ledger_key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def ledger_item(pk: str, sk: str, owner: str, balance: int) -> Item:
    return {**ledger_key(pk, sk), "owner": {"S": owner}, "balance": {"N": str(balance)}}


def idempotency_key(key: str) -> Item:
    return {"id": {"S": key}}


def idempotency_item(key: str, balance: int) -> Item:
    return {**idempotency_key(key), "balance": {"N": str(balance)}}


SEED_LEDGER = [
    ledger_item("a", "1", "alice", 10),
    ledger_item("a", "2", "bob", 5),
    ledger_item("b", "1", "alice", 7),
]
SEED_IDEMPOTENCY = [idempotency_item("k1", 1)]


def _action(kind: str, body: dict[str, Any], condition: str | None, extra: Any) -> Action:
    body |= extra
    if condition is not None:
        body["ConditionExpression"] = condition
        names = body.get("ExpressionAttributeNames", {})
        body["ExpressionAttributeNames"] = names | {"#hash": HASH_KEY.get(body["TableName"], "pk")}
    return {kind: body}


def put(item: Item, table: str = LEDGER, condition: str | None = None, **extra: Any) -> Action:
    return _action("Put", {"TableName": table, "Item": item}, condition, extra)


def update(
    key: Item,
    expression: str = "ADD balance :n",
    values: Item | None = None,
    table: str = LEDGER,
    condition: str | None = None,
    **extra: Any,
) -> Action:
    body = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": expression,
        "ExpressionAttributeValues": {":n": {"N": "1"}} if values is None else values,
    }
    return _action("Update", body, condition, extra)


def delete(key: Item, table: str = LEDGER, condition: str | None = None, **extra: Any) -> Action:
    return _action("Delete", {"TableName": table, "Key": key}, condition, extra)


def check(key: Item, condition: str, table: str = LEDGER, **extra: Any) -> Action:
    return _action("ConditionCheck", {"TableName": table, "Key": key}, condition, extra)


@dataclass
class Clients:
    dynamodb: Any
    streams: Any
    stream_arn: str


@dataclass
class Observation:
    """What boto3 can see after a scenario: its result, then the whole state of both tables."""

    result: Any
    ledger: list[Item]
    idempotency: list[Item]
    by_owner: dict[str, list[Item]]
    item_counts: dict[str, int]
    stream: list[dict[str, Any]]

    def state(self) -> tuple[Any, ...]:
        return (self.ledger, self.idempotency, self.by_owner, self.item_counts, self.stream)


Scenario = Callable[[Clients], Any]


def transact(clients: Clients, actions: list[Action]) -> Outcome:
    """None when the transaction commits, else the error as boto3 reports it."""
    try:
        clients.dynamodb.transact_write_items(TransactItems=actions)
    except ClientError as error:
        return {
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"]["Message"],
            "reasons": error.response.get("CancellationReasons"),
        }
    return None


def create_tables(dynamodb: Any) -> str:
    table = dynamodb.create_table(
        TableName=LEDGER,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "owner")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BY_OWNER,
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    dynamodb.create_table(
        TableName=IDEMPOTENCY,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in SEED_LEDGER:
        dynamodb.put_item(TableName=LEDGER, Item=item)
    for item in SEED_IDEMPOTENCY:
        dynamodb.put_item(TableName=IDEMPOTENCY, Item=item)
    return str(table["TableDescription"]["LatestStreamArn"])


def scan(dynamodb: Any, table: str) -> list[Item]:
    items: list[Item] = []
    page: dict[str, Any] = {}
    while True:
        response = dynamodb.scan(TableName=table, **page)
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            break
        page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}
    return sorted(
        items, key=lambda item: [item[name]["S"] for name in ("pk", "sk", "id") if name in item]
    )


def query_owner(dynamodb: Any, owner: str) -> list[Item]:
    response = dynamodb.query(
        TableName=LEDGER,
        IndexName=BY_OWNER,
        KeyConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":owner": {"S": owner}},
    )
    return list(response["Items"])


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A stream record without what moto makes random or time-dependent."""
    # moto's SizeBytes is the length of the record's JSON, timestamp included.
    dynamodb = {
        name: value
        for name, value in record["dynamodb"].items()
        if name not in {"ApproximateCreationDateTime", "SizeBytes"}
    }
    return {name: value for name, value in record.items() if name != "eventID"} | {
        "dynamodb": dynamodb
    }


def drain(clients: Clients, iterator: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        page = clients.streams.get_records(ShardIterator=iterator)
        if not page["Records"]:
            return records
        records += [comparable(record) for record in page["Records"]]
        iterator = page["NextShardIterator"]


def shard_iterator(clients: Clients, kind: str = "TRIM_HORIZON", **after: str) -> str:
    description = clients.streams.describe_stream(StreamArn=clients.stream_arn)
    (shard,) = description["StreamDescription"]["Shards"]
    response = clients.streams.get_shard_iterator(
        StreamArn=clients.stream_arn,
        ShardId=shard["ShardId"],
        ShardIteratorType=kind,
        **after,
    )
    return str(response["ShardIterator"])


@cache
def aws_clients() -> tuple[Any, Any]:
    """DynamoDB and Streams clients for every scenario: moto intercepts them in any mock_aws()
    and creating them anew (mock_aws() drops boto3's default session) costs more than most
    scenarios."""
    session = boto3.session.Session()
    # botocore now sends Streams calls to <account>.streams-ddb.<region>, which moto 5.2 does
    # not intercept; the classic endpoint is the one it serves.
    streams = session.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    return session.client("dynamodb"), streams


def observe(scenario: Scenario, patched: bool) -> Observation:
    with mock_aws(), moto_semantics(patched):
        dynamodb, streams = aws_clients()
        clients = Clients(dynamodb, streams, create_tables(dynamodb))
        result = scenario(clients)
        return Observation(
            result=result,
            ledger=scan(dynamodb, LEDGER),
            idempotency=scan(dynamodb, IDEMPOTENCY),
            by_owner={owner: query_owner(dynamodb, owner) for owner in OWNERS},
            item_counts={
                table: dynamodb.describe_table(TableName=table)["Table"]["ItemCount"]
                for table in (LEDGER, IDEMPOTENCY)
            },
            stream=drain(clients, shard_iterator(clients)),
        )


def both_ways(scenario: Scenario) -> Observation:
    """Run the scenario on the undo log and on moto's own method; they must look the same."""
    patched = observe(scenario, patched=True)
    original = observe(scenario, patched=False)
    assert patched == original
    return patched


def run(*transactions: list[Action]) -> Scenario:
    return lambda clients: [transact(clients, actions) for actions in transactions]


@pytest.fixture(scope="module")
def untouched() -> Observation:
    """The seeded tables before any transaction."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_fake_aws(monkeypatch)
        return both_ways(lambda clients: None)


def codes(outcome: Outcome) -> list[str]:
    assert outcome is not None
    return [reason["Code"] for reason in outcome["reasons"]]


NEW_ITEM = put(ledger_item("a", "3", "carol", 1))
ADD_TO_EXISTING = update(ledger_key("a", "1"), values={":n": {"N": "5"}})
DELETE_EXISTING = delete(ledger_key("a", "2"))
PUT_IDEMPOTENCY = put(idempotency_item("k2", 2), table=IDEMPOTENCY)
DELETE_IDEMPOTENCY = delete(idempotency_key("k1"), table=IDEMPOTENCY)
FAILING_NEW_HASH = put(ledger_item("c", "1", "carol", 3), condition=EXISTS)
FAILING_CHECK = check(ledger_key("b", "1"), ABSENT)


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        pytest.param(
            [NEW_ITEM, ADD_TO_EXISTING, DELETE_EXISTING, PUT_IDEMPOTENCY, FAILING_NEW_HASH],
            ["None", "None", "None", "None", "ConditionalCheckFailed"],
            id="last-fails",
        ),
        pytest.param(
            [FAILING_NEW_HASH, NEW_ITEM, ADD_TO_EXISTING, DELETE_EXISTING, PUT_IDEMPOTENCY],
            ["ConditionalCheckFailed", "None", "None", "None", "None"],
            id="first-fails",
        ),
        pytest.param(
            [NEW_ITEM, ADD_TO_EXISTING, FAILING_NEW_HASH, DELETE_EXISTING, PUT_IDEMPOTENCY],
            ["None", "None", "ConditionalCheckFailed", "None", "None"],
            id="middle-fails",
        ),
        pytest.param(
            [FAILING_NEW_HASH, NEW_ITEM, ADD_TO_EXISTING, DELETE_EXISTING, FAILING_CHECK],
            ["ConditionalCheckFailed", "None", "None", "None", "ConditionalCheckFailed"],
            id="first-and-last-fail",
        ),
        pytest.param(
            [DELETE_IDEMPOTENCY, NEW_ITEM, PUT_IDEMPOTENCY, FAILING_CHECK],
            ["None", "None", "None", "ConditionalCheckFailed"],
            id="hash-only-delete-then-fails",
        ),
        pytest.param(
            [update(idempotency_key("k1"), table=IDEMPOTENCY), FAILING_CHECK],
            ["None", "ConditionalCheckFailed"],
            id="hash-only-update-then-fails",
        ),
    ],
)
def test_a_failed_condition_cancels_every_action(
    untouched: Observation, actions: list[Action], expected: list[str]
) -> None:
    """Given Puts, ADDs and Deletes on new and existing items of both tables / When a
    condition fails (first, middle, last, or two) / Then the reasons name each action in
    order and neither table nor the stream has changed."""
    observed = both_ways(run(actions))

    (outcome,) = observed.result
    assert outcome["code"] == "TransactionCanceledException"
    assert codes(outcome) == expected
    assert outcome["message"].endswith(f"[{', '.join(expected)}]")
    assert observed.state() == untouched.state()


def test_all_old_returns_the_item_that_failed_its_condition(untouched: Observation) -> None:
    """Given ReturnValuesOnConditionCheckFailure=ALL_OLD / When conditions fail on an existing
    item in each table and on a missing one / Then only the existing items come back."""
    observed = both_ways(
        run(
            [
                NEW_ITEM,
                update(
                    ledger_key("a", "1"),
                    condition=ABSENT,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
                delete(
                    ledger_key("c", "9"),
                    condition=EXISTS,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
                put(
                    idempotency_item("k1", 9),
                    table=IDEMPOTENCY,
                    condition=ABSENT,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
                check(ledger_key("b", "1"), ABSENT, ReturnValuesOnConditionCheckFailure="ALL_OLD"),
            ]
        )
    )

    (outcome,) = observed.result
    reasons = outcome["reasons"]
    assert [reason.get("Item") for reason in reasons] == [
        None,
        SEED_LEDGER[0],
        None,
        SEED_IDEMPOTENCY[0],
        SEED_LEDGER[2],
    ]
    assert reasons[2] == {
        "Code": "ConditionalCheckFailed",
        "Message": "The conditional request failed",
    }
    assert observed.state() == untouched.state()


@pytest.mark.parametrize(
    "actions",
    [
        pytest.param([ADD_TO_EXISTING, delete(ledger_key("a", "1"))], id="update-then-delete"),
        pytest.param(
            [put(SEED_LEDGER[0]), check({"sk": {"S": "1"}, "pk": {"S": "a"}}, EXISTS)],
            id="put-key-then-check-key-in-other-order",
        ),
        pytest.param(
            [
                NEW_ITEM,
                PUT_IDEMPOTENCY,
                ADD_TO_EXISTING,
                DELETE_EXISTING,
                delete(ledger_key("a", "1")),
            ],
            id="duplicate-after-writes",
        ),
        pytest.param(
            [NEW_ITEM, PUT_IDEMPOTENCY, delete(idempotency_key("k2"), table=IDEMPOTENCY)],
            id="duplicate-in-hash-only-table",
        ),
    ],
)
def test_two_actions_on_one_item_are_refused_and_write_nothing(
    untouched: Observation, actions: list[Action]
) -> None:
    """Given two actions on one item, even after other writes / When they are sent in one
    transaction / Then a ValidationException is raised with moto's message and nothing the
    earlier actions wrote remains."""
    observed = both_ways(run(actions))

    assert observed.result == [
        {"code": "ValidationException", "message": MULTIPLE_OPERATIONS, "reasons": None}
    ]
    assert observed.state() == untouched.state()


def test_more_than_100_actions_are_refused_and_exactly_100_accepted(untouched: Observation) -> None:
    """Given 101 distinct Puts / When they are sent as one transaction, and then the first
    100 / Then the 101 are refused whole and the 100 are all written."""
    many = [put(ledger_item("n", f"{number:03}", "carol", number)) for number in range(101)]

    refused = both_ways(run(many))
    accepted = both_ways(run(many[:100]))

    (outcome,) = refused.result
    assert outcome["code"] == "ValidationException"
    assert "Member must have length less than or equal to 100" in outcome["message"]
    assert refused.state() == untouched.state()
    assert accepted.result == [None]
    assert len(accepted.ledger) == len(SEED_LEDGER) + 100
    assert len(accepted.stream) == len(untouched.stream) + 100


def sequence_number(record: dict[str, Any]) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


def commit_cancel_commit(clients: Clients) -> dict[str, Any]:
    first = transact(
        clients,
        [
            NEW_ITEM,
            ADD_TO_EXISTING,
            DELETE_EXISTING,
            PUT_IDEMPOTENCY,
            update(
                ledger_key("c", "1"),
                "SET #owner = :owner",
                {":owner": {"S": "carol"}},
                ExpressionAttributeNames={"#owner": "owner"},
            ),
        ],
    )
    committed = drain(clients, shard_iterator(clients))
    items_committed = [scan(clients.dynamodb, table) for table in (LEDGER, IDEMPOTENCY)]
    last = str(sequence_number(committed[-1]))
    cancelled = transact(
        clients,
        [
            put(ledger_item("b", "2", "bob", 4)),
            update(ledger_key("c", "1")),
            delete(ledger_key("a", "3")),
            put(idempotency_item("k3", 3), table=IDEMPOTENCY),
            FAILING_CHECK,
        ],
    )
    after_cancel = drain(
        clients, shard_iterator(clients, "AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
    )
    items_after_cancel = [scan(clients.dynamodb, table) for table in (LEDGER, IDEMPOTENCY)]
    third = transact(clients, [update(ledger_key("a", "1")), put(ledger_item("b", "2", "bob", 4))])
    after_third = drain(
        clients, shard_iterator(clients, "AFTER_SEQUENCE_NUMBER", SequenceNumber=last)
    )
    return {
        "outcomes": [first, cancelled, third],
        "committed": committed,
        "after_cancel": after_cancel,
        "after_third": after_third,
        "items_committed": items_committed,
        "items_after_cancel": items_after_cancel,
    }


def test_committed_transactions_stream_in_order_around_a_cancelled_one(
    untouched: Observation,
) -> None:
    """Given a committed transaction, a cancelled one and a committed one / When they run in
    turn / Then items, index and stream match moto's; the stream read on from the first shows
    the third's records, no gap."""
    observed = both_ways(commit_cancel_commit)

    first, cancelled, third = observed.result["outcomes"]
    assert (first, third) == (None, None)
    assert codes(cancelled) == ["None"] * 4 + ["ConditionalCheckFailed"]
    assert [record["eventName"] for record in observed.result["committed"]] == (
        # seed; then a/3, a/1, a/2, and the Update that creates c/1 (moto puts its key first)
        ["INSERT"] * 3 + ["INSERT", "MODIFY", "REMOVE", "INSERT", "INSERT"]
    )
    assert observed.result["after_cancel"] == []
    assert observed.result["items_after_cancel"] == observed.result["items_committed"]
    after_third = observed.result["after_third"]
    assert [(record["eventName"], record["dynamodb"]["Keys"]) for record in after_third] == [
        ("MODIFY", ledger_key("a", "1")),
        ("INSERT", ledger_key("b", "2")),
    ]
    assert observed.stream == observed.result["committed"] + after_third
    numbers = [sequence_number(record) for record in observed.stream]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert observed.stream[:3] == untouched.stream
    assert observed.by_owner["carol"] == [  # in the index's sort key order
        {**ledger_key("c", "1"), "owner": {"S": "carol"}},
        ledger_item("a", "3", "carol", 1),
    ]
    assert observed.idempotency == [*SEED_IDEMPOTENCY, idempotency_item("k2", 2)]


def test_an_iterator_held_across_a_cancelled_transaction_sees_only_committed_records() -> None:
    """Given a NextShardIterator taken before a cancelled transaction / When a later one
    commits / Then on the undo log it reads just the later records, as DynamoDB would.

    This is the one place the two differ: moto's own method puts a copy of the table back,
    so an iterator on the old stream shard reads the cancelled records and misses later ones.
    """

    def held_iterator(clients: Clients) -> list[str]:
        page = clients.streams.get_records(ShardIterator=shard_iterator(clients))
        transact(clients, [NEW_ITEM, FAILING_CHECK])
        transact(clients, [put(ledger_item("b", "2", "bob", 4))])
        records = drain(clients, page["NextShardIterator"])
        return [
            record["dynamodb"]["Keys"]["pk"]["S"] + record["dynamodb"]["Keys"]["sk"]["S"]
            for record in records
        ]

    assert observe(held_iterator, patched=True).result == ["b2"]
    assert observe(held_iterator, patched=False).result == ["a3"]


@pytest.mark.parametrize(
    "actions",
    [
        pytest.param(
            [update(ledger_key("c", "1"), values={":n": {"N": "5"}}), FAILING_CHECK],
            id="update-creates-in-new-hash",
        ),
        pytest.param(
            [update(ledger_key("a", "9")), FAILING_CHECK],
            id="update-creates-beside-existing-hash",
        ),
        pytest.param(
            [update(idempotency_key("k9"), table=IDEMPOTENCY), FAILING_CHECK],
            id="update-creates-in-hash-only-table",
        ),
    ],
)
def test_an_item_an_update_created_is_gone_when_the_transaction_is_cancelled(
    untouched: Observation, actions: list[Action]
) -> None:
    """Given an Update that creates an item / When a later condition fails / Then the item is
    not there: not in a Scan, not in a Query on its hash key, not in the item count."""

    key = actions[0]["Update"]["Key"]
    table = actions[0]["Update"]["TableName"]
    hash_key = HASH_KEY[table]

    def cancelled_then_read(clients: Clients) -> dict[str, Any]:
        outcome = transact(clients, actions)
        query = clients.dynamodb.query(
            TableName=table,
            KeyConditionExpression="#hash = :hash",
            ExpressionAttributeNames={"#hash": hash_key},
            ExpressionAttributeValues={":hash": key[hash_key]},
        )
        item = clients.dynamodb.get_item(TableName=table, Key=key)
        return {"outcome": outcome, "query": query["Items"], "get": item.get("Item")}

    observed = both_ways(cancelled_then_read)

    assert codes(observed.result["outcome"]) == ["None", "ConditionalCheckFailed"]
    assert observed.result["get"] is None
    seeded = [
        item for item in SEED_LEDGER + SEED_IDEMPOTENCY if item.get(hash_key) == key[hash_key]
    ]
    assert observed.result["query"] == seeded
    assert observed.state() == untouched.state()


CANCELLED = "TransactionCanceledException"
INVALID = "ValidationException"


@pytest.mark.parametrize(
    ("actions", "code", "reasons"),
    [
        pytest.param([FAILING_CHECK], CANCELLED, ["ConditionalCheckFailed"], id="check-alone"),
        pytest.param(
            [NEW_ITEM, PUT_IDEMPOTENCY, FAILING_CHECK],
            CANCELLED,
            ["None", "None", "ConditionalCheckFailed"],
            id="check-after-writes",
        ),
        pytest.param(
            # moto looks a Put's table up before the transaction starts
            [put(ledger_item("a", "3", "carol", 1), table="Missing")],
            "ResourceNotFoundException",
            None,
            id="put-to-missing-table",
        ),
        pytest.param(
            [NEW_ITEM, PUT_IDEMPOTENCY, delete(ledger_key("a", "1"), table="Missing")],
            CANCELLED,
            ["None", "None", "ResourceNotFoundException"],
            id="delete-in-missing-table-after-writes",
        ),
        pytest.param(
            # moto parses every UpdateExpression before the transaction starts
            [NEW_ITEM, PUT_IDEMPOTENCY, update(ledger_key("a", "1"), "ADD balance")],
            INVALID,
            None,
            id="malformed-update-expression",
        ),
        pytest.param(
            [NEW_ITEM, PUT_IDEMPOTENCY, update(ledger_key("a", "1"), "SET balance = :missing")],
            INVALID,
            None,
            id="undefined-expression-value-after-writes",
        ),
        pytest.param(
            [NEW_ITEM, update(ledger_key("c", "1"), "SET balance = balance + :n")],
            INVALID,
            None,
            id="missing-attribute-in-update-of-new-item",
        ),
        pytest.param(
            [
                NEW_ITEM,
                ADD_TO_EXISTING,
                update(
                    ledger_key("a", "2"),
                    "ADD #owner :n",
                    ExpressionAttributeNames={"#owner": "owner"},
                ),
            ],
            INVALID,
            None,
            id="add-number-to-string-after-writes",
        ),
        pytest.param(
            # moto's own quirk: DynamoDB would refuse the request instead
            [NEW_ITEM, put({"pk": {"S": "c"}, "owner": {"S": "carol"}})],
            CANCELLED,
            ["None", "KeyError"],
            id="put-without-range-key",
        ),
        pytest.param(
            [NEW_ITEM, put({"pk": {"N": "1"}, "sk": {"S": "1"}})],
            INVALID,
            None,
            id="put-with-wrong-key-type-after-a-write",
        ),
    ],
)
def test_other_failures_leave_the_tables_as_moto_does(
    untouched: Observation, actions: list[Action], code: str, reasons: list[str] | None
) -> None:
    """Given a failing ConditionCheck, a missing table or an item or update moto refuses /
    When the transaction is sent / Then the error is moto's (as it answers today), and
    nothing the other actions wrote remains."""
    observed = both_ways(run(actions))

    (outcome,) = observed.result
    assert outcome["code"] == code
    assert (None if outcome["reasons"] is None else codes(outcome)) == reasons
    assert observed.state() == untouched.state()


LEDGER_KEYS = [("a", "1"), ("a", "2"), ("b", "1"), ("c", "1")]
IDEMPOTENCY_KEYS = ["k1", "k2", "k3"]


@st.composite
def actions(draw: st.DrawFn) -> Action:
    table = draw(st.sampled_from([LEDGER, IDEMPOTENCY]))
    if table == LEDGER:
        pk, sk = draw(st.sampled_from(LEDGER_KEYS))
        key = ledger_key(pk, sk)
        full = ledger_item(pk, sk, draw(st.sampled_from(OWNERS)), draw(st.integers(0, 9)))
    else:
        name = draw(st.sampled_from(IDEMPOTENCY_KEYS))
        key = idempotency_key(name)
        full = idempotency_item(name, draw(st.integers(0, 9)))
    kind = draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
    condition = draw(st.sampled_from([None, EXISTS, ABSENT]))
    extra = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if draw(st.booleans()) else {}
    if kind == "ConditionCheck":
        return check(key, draw(st.sampled_from([EXISTS, ABSENT])), table=table, **extra)
    if kind == "Put":
        return put(full, table=table, condition=condition, **extra)
    if kind == "Update":
        values = {":n": {"N": str(draw(st.integers(-3, 3)))}}
        return update(key, values=values, table=table, condition=condition, **extra)
    return delete(key, table=table, condition=condition, **extra)


def target(action: Action) -> tuple[str, str]:
    """The table and key an action names, as in moto's one-action-per-item check."""
    (body,) = action.values()
    key = body.get("Key") or {
        name: value for name, value in body["Item"].items() if name in {"pk", "sk", "id"}
    }
    return body["TableName"], repr(sorted(key.items()))


# Two actions on one item refuse the whole transaction: keep most transactions free of them.
transactions = st.one_of(
    st.lists(actions(), min_size=1, max_size=5, unique_by=target),
    st.lists(actions(), min_size=1, max_size=5),
)


@settings(
    max_examples=25,
    deadline=None,
    # The autouse environment fixture is the same for every example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(transactions, min_size=1, max_size=5))
def test_random_transactions_end_the_same_both_ways(sequence: list[list[Action]]) -> None:
    """Given any sequence of transactions over a few keys / When they run in turn / Then each
    outcome and the final tables and stream are the same on the undo log as on moto's own
    method."""
    both_ways(run(*sequence))


def test_install_and_uninstall_swap_moto_s_method_back_and_forth() -> None:
    """Given either semantics / When installed (twice) then uninstalled / Then moto's own is
    back."""
    assert moto_transactions.moto_original.__qualname__ == "DynamoDBBackend.transact_write_items"
    assert moto_transactions.moto_original.__module__ == "moto.dynamodb.models"
    with moto_semantics(False):
        moto_transactions.install()
        moto_transactions.install()
        assert DynamoDBBackend.transact_write_items is moto_transactions.transact_write_items
        moto_transactions.uninstall()
        assert DynamoDBBackend.transact_write_items is moto_transactions.moto_original


def test_moto_semantics_puts_the_previous_method_back_even_on_error() -> None:
    """Given the undo log installed / When a block on moto's own method raises / Then the undo
    log is installed again afterwards."""
    with moto_semantics(True):
        with pytest.raises(RuntimeError), moto_semantics(False):
            assert DynamoDBBackend.transact_write_items is moto_transactions.moto_original
            raise RuntimeError
        assert DynamoDBBackend.transact_write_items is moto_transactions.transact_write_items


def test_the_aws_fixture_runs_tests_on_the_undo_log(request: pytest.FixtureRequest) -> None:
    """Given moto's own method / When the tests' `aws` fixture runs / Then the undo log is
    in."""
    with moto_semantics(False):
        request.getfixturevalue("aws")
        assert DynamoDBBackend.transact_write_items is moto_transactions.transact_write_items
