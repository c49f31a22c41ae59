"""The benchmark's request-unit meter: DynamoDB's sizing rules, and its counting on moto.

Every expected figure is worked out by hand from DynamoDB's documented rules ("Item sizes and
formats", "Capacity unit consumption"), never from the meter's own output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from bench.capacity import (
    CapacityMeter,
    Consumption,
    item_size,
    number_size,
    read_units,
    value_size,
    write_units,
)
from bench.network import FAKE_AWS, SHADOWING
from moto import mock_aws

PLAIN = "bench-plain"
INDEXED = "bench-indexed"
BY_OWNER = "ByOwner"  # projects ALL
BY_STATUS = "ByStatus"  # projects KEYS_ONLY
# Upper-case words, so that each entry's label is its own ("LOG/ONE"...).
LOG_ENTRIES = ("ONE", "TWO", "SIX")


# -- sizing rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("7", 2),  # 1 significant digit: ceil(1/2) + 1 = 2
        ("12", 2),  # 2 digits: 1 + 1 = 2
        ("123", 3),  # 3 digits: ceil(3/2) + 1 = 3
        ("-12345", 4),  # sign not a digit; 5 digits: 3 + 1 = 4
        ("1000", 2),  # trailing zeros trimmed: "1", 1 + 1 = 2
        ("0.0012", 2),  # leading zeros trimmed: "12", 1 + 1 = 2
        ("10.01", 3),  # "1001", 4 digits: 2 + 1 = 3
        ("1.5E+3", 2),  # 1500, "15": 1 + 1 = 2
        ("0", 1),  # no significant digit: 0 + 1 = 1
        ("1234567890123456789012345678", 15),  # 28 digits: 14 + 1 = 15
    ],
)
def test_a_number_takes_one_byte_per_two_significant_digits_plus_one(
    number: str, expected: int
) -> None:
    # Given a DynamoDB number, as its string
    # When its stored size is reckoned
    # Then it takes one byte per two significant digits, plus one
    assert number_size(number) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("1" * 38, 20),  # 38 digits (DynamoDB's maximum): 19 + 1 = 20
        ("9" * 38, 20),  # 38 digits: 19 + 1 = 20 (not rounded to 1E+38)
        ("1" * 29, 16),  # 29 digits: ceil(29/2) + 1 = 16
    ],
)
def test_a_number_of_up_to_38_significant_digits_is_sized_in_full(
    number: str, expected: int
) -> None:
    # Given a number of up to DynamoDB's 38 significant digits
    # When its stored size is reckoned
    # Then every digit counts, none lost to rounding
    assert number_size(number) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"S": "points"}, 6),  # 6 ASCII bytes
        ({"S": "café"}, 5),  # c a f = 3, é = 2 bytes in UTF-8
        ({"S": "€"}, 3),  # U+20AC is 3 bytes in UTF-8
        ({"S": "😀"}, 4),  # outside the BMP: 4 bytes in UTF-8
        ({"B": b"\x00\x01\x02"}, 3),  # raw byte length
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["ab", "é"]}, 4),  # 2 + 2
        ({"NS": ["1", "123"]}, 5),  # 2 + 3
        ({"L": []}, 3),  # empty list: the 3-byte overhead alone
        ({"M": {}}, 3),  # empty map: the 3-byte overhead alone
        ({"L": [{"N": "1"}, {"S": "ab"}]}, 9),  # 3 + (1 + 2) + (1 + 2)
        ({"M": {"a": {"N": "1"}, "bc": {"S": "x"}}}, 11),  # 3 + (1 + 1 + 2) + (1 + 2 + 1)
        ({"M": {"l": {"L": [{"BOOL": False}]}}}, 10),  # 3 + (1 + 1 + (3 + (1 + 1)))
    ],
)
def test_a_value_is_sized_by_dynamodbs_rules(value: dict[str, Any], expected: int) -> None:
    # Given an attribute value of one of DynamoDB's types
    # When its stored size is reckoned
    # Then it follows DynamoDB's rules: UTF-8 bytes, 1 for flags, 3 of overhead for L and M
    assert value_size(value) == expected


def test_an_item_is_its_attribute_names_plus_their_values() -> None:
    # Given an account balance item
    item = {
        "pk": {"S": "ACCOUNT#m1"},  # 2 + 10 = 12
        "points": {"N": "250"},  # 6 + ("25": 1 + 1) = 8
        "tags": {"L": [{"S": "vip"}]},  # 4 + (3 + (1 + 3)) = 11
    }
    # When it is sized, and so is no item at all
    # Then its size is 12 + 8 + 11 = 31 bytes, and an absent item is 0
    assert item_size(item) == 31
    assert item_size(None) == 0


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, 1), (1, 1), (1024, 1), (1025, 2), (2048, 2), (4096, 4), (400 * 1024, 400)],
)
def test_a_write_costs_one_unit_per_kilobyte_rounded_up_at_least_one(
    size: int, expected: int
) -> None:
    # Given an item of a size in bytes
    # When a standard write of it is costed
    # Then it takes one write unit per kilobyte, rounded up, and never less than one
    assert write_units(size) == expected


@pytest.mark.parametrize(
    ("size", "consistent", "expected"),
    [
        (0, True, 1.0),  # a missing item still costs the minimum
        (0, False, 0.5),
        (4096, True, 1.0),
        (4097, True, 2.0),  # ceil(4097 / 4096) = 2 blocks
        (4097, False, 1.0),  # 2 blocks / 2
        (10 * 1024, True, 3.0),  # 10 KB rounds up to 12 KB: 3 blocks
        (10 * 1024, False, 1.5),
    ],
)
def test_a_read_costs_one_unit_per_4_kb_strongly_consistent_half_eventually(
    size: int, consistent: bool, expected: float
) -> None:
    # Given an item of a size in bytes, read consistently or not
    # When the read is costed
    # Then it takes one unit per 4 KB strongly consistent, half that eventually consistent
    assert read_units(size, consistent) == expected


def test_consumption_per_request_divides_units_and_calls_but_keeps_sizes() -> None:
    # Given what four requests consumed
    consumed = Consumption()
    consumed.add_write("TXN/ENTRY", 8, 700)
    consumed.add_write("TXN/ENTRY", 0, 300)
    consumed.add_read("ACCOUNT/BALANCE", 2)
    consumed.calls["TransactWriteItems"] += 4
    # When it is scaled to one request
    one = consumed.per_request(4)
    # Then units and calls are a quarter each, and the largest item size is kept as it is
    assert dict(one.write_units) == {"TXN/ENTRY": 2.0}
    assert dict(one.read_units) == {"ACCOUNT/BALANCE": 0.5}
    assert dict(one.calls) == {"TransactWriteItems": 1.0}
    assert one.item_bytes == {"TXN/ENTRY": 700}


# -- the meter on moto -------------------------------------------------------------------------


def text_item(pk: str, sk: str, text_bytes: int) -> dict[str, Any]:
    """An item of len(pk) + len(sk) + 8 + text_bytes bytes ("pk", "sk", "text" names)."""
    return {"pk": {"S": pk}, "sk": {"S": sk}, "text": {"S": "x" * text_bytes}}


def card(number: int, *, note_bytes: int, status: str | None = None) -> dict[str, Any]:
    """A card in the indexed table: 28 + note_bytes bytes, 10 more with a 4-letter status.

    pk "CARD#n" 2 + 6, sk "PROFILE" 2 + 7, owner "m1" 5 + 2, note 4 + note_bytes;
    status 6 + 4.
    """
    item = {
        "pk": {"S": f"CARD#{number}"},
        "sk": {"S": "PROFILE"},
        "owner": {"S": "m1"},
        "note": {"S": "n" * note_bytes},
    }
    if status is not None:
        item["status"] = {"S": status}
    return item


def _create_tables(client: Any) -> None:
    """A plain table, and one with an ALL and a KEYS_ONLY index."""
    keys = {
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    key_types = [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    client.create_table(TableName=PLAIN, AttributeDefinitions=key_types, **keys)
    client.create_table(
        TableName=INDEXED,
        AttributeDefinitions=[
            *key_types,
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BY_OWNER,
                "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": BY_STATUS,
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        **keys,
    )


@pytest.fixture(scope="module")
def sessions() -> tuple[boto3.session.Session, boto3.session.Session]:
    """A session for the watched client and one for the meter's inspector, made once per
    module: a new session loads botocore's service models again."""
    return boto3.session.Session(), boto3.session.Session()


@pytest.fixture
def metered(
    monkeypatch: pytest.MonkeyPatch,
    sessions: tuple[boto3.session.Session, boto3.session.Session],
) -> Iterator[tuple[Any, CapacityMeter]]:
    """Given moto with two ad-hoc tables, and a client the meter watches, wired as
    `bench.per_request` wires it: the inspector on a session of its own, its reads not counted.
    """
    for name in SHADOWING:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    watched, inspecting = sessions
    with mock_aws():
        client = watched.client("dynamodb")
        _create_tables(client)
        meter = CapacityMeter(lambda: inspecting.client("dynamodb"))
        meter.install(client.meta.events)
        yield client, meter


def measure(meter: CapacityMeter, calls: Callable[[], object]) -> Consumption:
    with meter.measuring() as consumed:
        calls()
    return consumed


def test_a_transaction_of_two_small_items_costs_four_write_units(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given an entry (2+5 + 2+5 + 6+2 = 22 bytes) and a balance (2+10 + 2+7 + 9+2 = 32 bytes)
    entry = {"pk": {"S": "TXN#1"}, "sk": {"S": "ENTRY"}, "points": {"N": "50"}}
    balance = {"pk": {"S": "ACCOUNT#m1"}, "sk": {"S": "BALANCE"}, "available": {"N": "50"}}
    # When both are written in one TransactWriteItems
    consumed = measure(
        meter,
        lambda: client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": PLAIN, "Item": entry}},
                {"Put": {"TableName": PLAIN, "Item": balance}},
            ]
        ),
    )
    # Then each costs 2 units (transactional, under 1 KB): 4 in all, in one call
    assert dict(consumed.write_units) == {"TXN/ENTRY": 2, "ACCOUNT/BALANCE": 2}
    assert consumed.total_write_units == 4
    assert consumed.total_read_units == 0
    assert consumed.item_bytes == {"TXN/ENTRY": 22, "ACCOUNT/BALANCE": 32}
    assert dict(consumed.calls) == {"TransactWriteItems": 1}


def test_a_transactional_item_over_1_kb_costs_two_units_per_kilobyte(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given an item of 5 + 5 + 8 + 1007 = 1025 bytes: 2 KB rounded up
    item = text_item("TXN#1", "ENTRY", 1007)
    # When it is put in a transaction
    consumed = measure(
        meter,
        lambda: client.transact_write_items(
            TransactItems=[{"Put": {"TableName": PLAIN, "Item": item}}]
        ),
    )
    # Then it costs 2 x 2 = 4 units
    assert dict(consumed.write_units) == {"TXN/ENTRY": 4}


def test_a_condition_check_in_a_transaction_is_charged_as_a_transactional_write(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a stored balance (32 bytes)
    client.put_item(
        TableName=PLAIN,
        Item={"pk": {"S": "ACCOUNT#m1"}, "sk": {"S": "BALANCE"}, "available": {"N": "50"}},
    )
    # When a transaction checks it and writes an entry of 22 bytes
    consumed = measure(
        meter,
        lambda: client.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": PLAIN,
                        "Key": {"pk": {"S": "ACCOUNT#m1"}, "sk": {"S": "BALANCE"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": PLAIN,
                        "Item": {"pk": {"S": "TXN#1"}, "sk": {"S": "ENTRY"}, "n": {"N": "1"}},
                    }
                },
            ]
        ),
    )
    # Then the check costs 2 units under its own label, and the put 2
    assert dict(consumed.write_units) == {"ACCOUNT/BALANCE (condition)": 2, "TXN/ENTRY": 2}


def test_a_standard_write_costs_one_unit_per_kilobyte_at_the_boundary(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given items of 5 + 4 + 8 + 1007 = 1024 bytes and 5 + 4 + 8 + 1008 = 1025 bytes
    exactly_1_kb = text_item("DOC#1", "BODY", 1007)
    one_byte_more = text_item("DOC#2", "BODY", 1008)

    def put_both() -> None:
        client.put_item(TableName=PLAIN, Item=exactly_1_kb)
        client.put_item(TableName=PLAIN, Item=one_byte_more)

    # When both are put on the metered table
    consumed = measure(meter, put_both)
    # Then the first costs 1 unit and the second 2
    assert dict(consumed.write_units) == {"DOC/BODY": 3}
    assert consumed.item_bytes == {"DOC/BODY": 1025}
    assert dict(consumed.calls) == {"PutItem": 2}


def test_a_put_on_a_table_with_an_all_index_costs_one_plus_one(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a card of 28 + 5 = 33 bytes, with an owner (ByOwner's key) and no status
    # When it is put
    consumed = measure(
        meter, lambda: client.put_item(TableName=INDEXED, Item=card(1, note_bytes=5))
    )
    # Then the table write costs 1 and the ALL index entry (the whole 33 bytes) 1;
    # ByStatus gets no entry, the item lacking its key
    assert dict(consumed.write_units) == {"CARD/PROFILE": 1, f"index {BY_OWNER}": 1}


def test_an_index_write_is_sized_by_its_projection(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a card of 28 + 1200 + 10 = 1238 bytes, keyed in both indexes
    item = card(1, note_bytes=1200, status="open")
    # When it is put
    consumed = measure(meter, lambda: client.put_item(TableName=INDEXED, Item=item))
    # Then the table costs 2 units (1238 bytes), the ALL entry 2 (the same 1238 bytes) and
    # the KEYS_ONLY entry 1 (pk 8 + sk 9 + status 10 = 27 bytes)
    assert dict(consumed.write_units) == {
        "CARD/PROFILE": 2,
        f"index {BY_OWNER}": 2,
        f"index {BY_STATUS}": 1,
    }
    assert consumed.item_bytes[f"index {BY_STATUS}"] == 27


def test_an_update_is_charged_on_the_larger_of_its_before_and_after_images(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a document of 5 + 4 + 8 + 1483 = 1500 bytes and another of 5 + 4 + 8 + 3 = 20
    client.put_item(TableName=PLAIN, Item=text_item("DOC#1", "BODY", 1483))
    client.put_item(TableName=PLAIN, Item=text_item("DOC#2", "BODY", 3))
    key_1 = {"pk": {"S": "DOC#1"}, "sk": {"S": "BODY"}}
    key_2 = {"pk": {"S": "DOC#2"}, "sk": {"S": "BODY"}}
    # When the first shrinks to 13 bytes (its text removed)
    shrink = measure(
        meter,
        lambda: client.update_item(
            TableName=PLAIN,
            Key=key_1,
            UpdateExpression="REMOVE #t",
            ExpressionAttributeNames={"#t": "text"},
        ),
    )
    # And the second grows to 1500 bytes
    grow = measure(
        meter,
        lambda: client.update_item(
            TableName=PLAIN,
            Key=key_2,
            UpdateExpression="SET #t = :t",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues={":t": {"S": "x" * 1483}},
        ),
    )
    # Then each costs 2 units, on its 1500-byte image, before or after
    assert dict(shrink.write_units) == {"DOC/BODY": 2}
    assert shrink.item_bytes == {"DOC/BODY": 1500}
    assert dict(grow.write_units) == {"DOC/BODY": 2}
    assert grow.item_bytes == {"DOC/BODY": 1500}


def test_an_update_writes_only_the_index_entries_it_changes(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a card of 28 + 5 + 10 = 43 bytes in both indexes
    client.put_item(TableName=INDEXED, Item=card(1, note_bytes=5, status="open"))
    key = {"pk": {"S": "CARD#1"}, "sk": {"S": "PROFILE"}}
    # When its note changes (not projected into ByStatus, KEYS_ONLY)
    note = measure(
        meter,
        lambda: client.update_item(
            TableName=INDEXED,
            Key=key,
            UpdateExpression="SET #n = :n",
            ExpressionAttributeNames={"#n": "note"},
            ExpressionAttributeValues={":n": {"S": "other"}},
        ),
    )
    # And then its status, ByStatus's key, changes
    status = measure(
        meter,
        lambda: client.update_item(
            TableName=INDEXED,
            Key=key,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "shut"}},
        ),
    )
    # Then the note costs the table 1 and the ALL entry 1, and ByStatus nothing
    assert dict(note.write_units) == {"CARD/PROFILE": 1, f"index {BY_OWNER}": 1}
    # And the status costs the table 1, the ALL entry 1, and ByStatus a delete plus a put: 2
    assert dict(status.write_units) == {
        "CARD/PROFILE": 1,
        f"index {BY_OWNER}": 1,
        f"index {BY_STATUS}": 2,
    }


def test_a_delete_is_charged_on_the_item_it_removes_and_its_index_entries(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a card of 28 + 1200 + 10 = 1238 bytes in both indexes
    client.put_item(TableName=INDEXED, Item=card(1, note_bytes=1200, status="open"))
    # When it is deleted
    consumed = measure(
        meter,
        lambda: client.delete_item(
            TableName=INDEXED, Key={"pk": {"S": "CARD#1"}, "sk": {"S": "PROFILE"}}
        ),
    )
    # Then the table costs 2 (1238 bytes), the ALL entry 2, the KEYS_ONLY entry 1 (27 bytes)
    assert dict(consumed.write_units) == {
        "CARD/PROFILE": 2,
        f"index {BY_OWNER}": 2,
        f"index {BY_STATUS}": 1,
    }


def test_a_refused_conditional_write_is_charged_on_the_existing_item(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a stored document of 1500 bytes
    client.put_item(TableName=PLAIN, Item=text_item("DOC#1", "BODY", 1483))

    def put_if_absent() -> None:
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName=PLAIN,
                Item=text_item("DOC#1", "BODY", 1),
                ConditionExpression="attribute_not_exists(pk)",
            )

    # When a put on its key is refused by its condition
    consumed = measure(meter, put_if_absent)
    # Then it still costs 2 units (the existing 1500 bytes), and is counted as failed
    assert dict(consumed.write_units) == {"DOC/BODY": 2}
    assert consumed.failed_calls == 1
    assert dict(consumed.calls) == {"PutItem": 1}


def test_calls_outside_measuring_are_not_counted(metered: tuple[Any, CapacityMeter]) -> None:
    client, meter = metered
    # Given one put measured
    consumed = measure(
        meter, lambda: client.put_item(TableName=PLAIN, Item=text_item("A#1", "B", 1))
    )
    # When more calls follow after the measurement ended
    client.put_item(TableName=PLAIN, Item=text_item("A#2", "B", 1))
    client.get_item(TableName=PLAIN, Key={"pk": {"S": "A#1"}, "sk": {"S": "B"}})
    # Then only the measured put is in it (and none of the meter's own reads)
    assert dict(consumed.write_units) == {"A/B": 1}
    assert consumed.total_read_units == 0
    assert dict(consumed.calls) == {"PutItem": 1}


def test_get_item_costs_one_unit_per_4_kb_consistent_and_half_eventually(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a document of 5 + 4 + 8 + 4080 = 4097 bytes: two 4 KB blocks
    client.put_item(TableName=PLAIN, Item=text_item("DOC#1", "BODY", 4080))
    stored = {"pk": {"S": "DOC#1"}, "sk": {"S": "BODY"}}
    missing = {"pk": {"S": "DOC#9"}, "sk": {"S": "BODY"}}

    def get(key: dict[str, Any], consistent: bool) -> Consumption:
        return measure(
            meter, lambda: client.get_item(TableName=PLAIN, Key=key, ConsistentRead=consistent)
        )

    # When it and a missing item are got, consistently and eventually
    # Then a consistent read costs 2, an eventually consistent one 1,
    # and a missing item the minimum: 1 and 0.5
    assert dict(get(stored, True).read_units) == {"DOC/BODY": 2.0}
    assert dict(get(stored, False).read_units) == {"DOC/BODY": 1.0}
    assert dict(get(missing, True).read_units) == {"DOC/BODY": 1.0}
    assert dict(get(missing, False).read_units) == {"DOC/BODY": 0.5}


def seed_log(client: Any) -> None:
    """Three entries of 5 + 3 + 8 + 1484 = 1500 bytes under one partition: 4500 bytes."""
    for sk in LOG_ENTRIES:
        client.put_item(TableName=PLAIN, Item=text_item("LOG#1", sk, 1484))


def test_a_query_is_charged_on_the_sum_of_its_items(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given three entries of 1500 bytes under one partition
    seed_log(client)

    # When they are queried, consistently and eventually
    def query(consistent: bool) -> Consumption:
        return measure(
            meter,
            lambda: client.query(
                TableName=PLAIN,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "LOG#1"}},
                ConsistentRead=consistent,
            ),
        )

    # Then 4500 bytes round up to 8 KB, two blocks: 2 units consistent, 1 eventually
    consistent = query(True)
    assert dict(consistent.read_units) == {f"Query {PLAIN}": 2.0}
    assert dict(consistent.calls) == {"Query": 1}
    assert dict(query(False).read_units) == {f"Query {PLAIN}": 1.0}


def test_a_batch_get_rounds_each_item_up_on_its_own(metered: tuple[Any, CapacityMeter]) -> None:
    client, meter = metered
    # Given three entries of 1500 bytes under one partition
    seed_log(client)
    keys = [{"pk": {"S": "LOG#1"}, "sk": {"S": sk}} for sk in LOG_ENTRIES]
    # When the same three 1500-byte entries are read with one consistent BatchGetItem
    consumed = measure(
        meter,
        lambda: client.batch_get_item(RequestItems={PLAIN: {"Keys": keys, "ConsistentRead": True}}),
    )
    # Then each is one 4 KB block: 3 units, where a Query of them costs 2
    assert dict(consumed.read_units) == {"LOG/ONE": 1.0, "LOG/TWO": 1.0, "LOG/SIX": 1.0}
    assert consumed.total_read_units == 3.0


def test_an_index_query_is_eventually_consistent(metered: tuple[Any, CapacityMeter]) -> None:
    client, meter = metered
    # Given two small cards of one owner
    client.put_item(TableName=INDEXED, Item=card(1, note_bytes=5))
    client.put_item(TableName=INDEXED, Item=card(2, note_bytes=5))
    # When the owner's index is queried
    consumed = measure(
        meter,
        lambda: client.query(
            TableName=INDEXED,
            IndexName=BY_OWNER,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": "m1"}},
        ),
    )
    # Then 2 x 33 bytes is one block, at half a unit
    assert dict(consumed.read_units) == {f"Query {BY_OWNER}": 0.5}


def test_a_transactional_read_costs_two_units_per_4_kb_item(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a small document (5 + 4 + 8 + 1 = 18 bytes) and one of 4097 bytes
    client.put_item(TableName=PLAIN, Item=text_item("DOC#1", "BODY", 1))
    client.put_item(TableName=PLAIN, Item=text_item("DOC#2", "BODY", 4080))
    # When both are read in one TransactGetItems
    consumed = measure(
        meter,
        lambda: client.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": PLAIN, "Key": {"pk": {"S": pk}, "sk": {"S": "BODY"}}}}
                for pk in ("DOC#1", "DOC#2")
            ]
        ),
    )
    # Then they cost 2 x 1 block + 2 x 2 blocks = 6 units
    assert dict(consumed.read_units) == {"transactional": 6.0}


def test_a_filtered_query_is_charged_on_the_items_it_read(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given three entries of 1500 bytes under one partition
    seed_log(client)
    # When the three 1500-byte entries are queried with a filter that keeps one
    consumed = measure(
        meter,
        lambda: client.query(
            TableName=PLAIN,
            KeyConditionExpression="pk = :pk",
            FilterExpression="sk = :sk",
            ExpressionAttributeValues={":pk": {"S": "LOG#1"}, ":sk": {"S": "ONE"}},
            ConsistentRead=True,
        ),
    )
    # Then DynamoDB charges all 4500 bytes read: 2 units (the meter counts 1500 bytes: 1)
    assert dict(consumed.read_units) == {f"Query {PLAIN}": 2.0}


def test_a_projected_get_item_is_charged_on_the_whole_item(
    metered: tuple[Any, CapacityMeter],
) -> None:
    client, meter = metered
    # Given a document of 4097 bytes
    client.put_item(TableName=PLAIN, Item=text_item("DOC#1", "BODY", 4080))
    # When only its key is read, consistently
    consumed = measure(
        meter,
        lambda: client.get_item(
            TableName=PLAIN,
            Key={"pk": {"S": "DOC#1"}, "sk": {"S": "BODY"}},
            ProjectionExpression="pk",
            ConsistentRead=True,
        ),
    )
    # Then DynamoDB charges the whole 4097 bytes: 2 units (the meter counts 9 bytes: 1)
    assert dict(consumed.read_units) == {"DOC/BODY": 2.0}
