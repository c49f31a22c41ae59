"""A Distributed Map's S3 items, locally: the CSV item reader, ItemBatcher and
MaxConcurrencyPath, as the import state machine uses them."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pointsnet.local.asl import StateMachine, StatesError, UnsupportedFeature
from pointsnet.local.item_reader import read_items
from pointsnet.local.state_machines import state_machines
from pointsnet.local.template import LocalStack, load_template

POST = "arn:aws:lambda:us-east-1:123456789012:function:post"
CSV_READER = {
    "Resource": "arn:aws:states:::s3:getObject",
    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
    "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
}


def distributed_map(**fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Rows",
        "States": {
            "Rows": {
                "Type": "Map",
                "ItemReader": CSV_READER,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Post",
                    "States": {"Post": {"Type": "Task", "Resource": POST, "End": True}},
                },
                "End": True,
                **fields,
            }
        },
    }


class Recorder:
    def __init__(self) -> None:
        self.payloads: list[Any] = []
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, function: str, payload: Any) -> Any:
        with self.lock:
            self.payloads.append(payload)
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            return len(payload.get("Items", [payload]))
        finally:
            with self.lock:
                self.active -= 1


def test_csv_rows_are_objects_of_strings_keyed_by_the_header() -> None:
    # Given a CSV with a byte-order mark, a short row and a blank line
    document = "\ufeffmember_id,points,tier\nm-1,10,gold\nm-2,5\n\n".encode()
    # When the reader reads it
    items = read_items(CSV_READER, document)
    # Then each row is an object of strings; a missing value is empty
    assert items == [
        {"member_id": "m-1", "points": "10", "tier": "gold"},
        {"member_id": "m-2", "points": "5", "tier": ""},
    ]


def test_a_batched_map_gives_each_child_its_items_with_their_index_and_the_batch_input() -> None:
    # Given five rows in S3, batched two to a child with the import's id
    rows = "member_id\n" + "".join(f"m-{n}\n" for n in range(5))
    definition = distributed_map(
        ItemSelector={"line.$": "$$.Map.Item.Index", "row.$": "$$.Map.Item.Value"},
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"import_id.$": "$.import_id"}},
    )
    functions = Recorder()
    read: list[tuple[str, str]] = []

    def read_object(bucket: str, key: str) -> bytes:
        read.append((bucket, key))
        return rows.encode()

    # When the map runs
    output = StateMachine(definition, functions, read_object=read_object).run(
        {"bucket": "b", "key": "k.csv", "import_id": "imp_1"}
    )
    # Then the object was read once, and three children got their rows in order
    assert read == [("b", "k.csv")]
    assert output == [2, 2, 1]
    first = sorted(functions.payloads, key=lambda payload: payload["Items"][0]["line"])[0]
    assert first == {
        "Items": [
            {"line": 0, "row": {"member_id": "m-0"}},
            {"line": 1, "row": {"member_id": "m-1"}},
        ],
        "BatchInput": {"import_id": "imp_1"},
    }


def test_max_concurrency_path_bounds_the_children_at_once() -> None:
    # Given twelve rows, one to a child, at most two at once by the input
    rows = "n\n" + "".join(f"{n}\n" for n in range(12))
    definition = distributed_map(MaxConcurrencyPath="$.concurrency")
    functions = Recorder()
    # When it runs on an interpreter with eight workers
    StateMachine(
        definition, functions, max_workers=8, read_object=lambda bucket, key: rows.encode()
    ).run({"bucket": "b", "key": "k", "concurrency": 2})
    # Then all ran, never more than two at once
    assert len(functions.payloads) == 12
    assert functions.peak <= 2


def test_an_object_that_cannot_be_read_fails_the_map_as_the_reader() -> None:
    # Given an object that is not there
    def missing(bucket: str, key: str) -> bytes:
        raise KeyError(key)

    # When the map runs
    with pytest.raises(StatesError) as failed:
        StateMachine(distributed_map(), Recorder(), read_object=missing).run(
            {"bucket": "b", "key": "gone"}
        )
    # Then it fails with the reader's error
    assert failed.value.error == "States.ItemReaderFailed"


def test_a_reader_the_interpreter_does_not_run_is_refused_when_read() -> None:
    # Given a manifest reader
    reader = dict(CSV_READER, ReaderConfig={"InputType": "MANIFEST"})
    # When the definition is read
    with pytest.raises(UnsupportedFeature) as refused:
        StateMachine(distributed_map(ItemReader=reader), Recorder())
    # Then it is refused, naming what
    assert "InputType MANIFEST" in str(refused.value)


def test_the_import_state_machine_reads_as_the_template_declares_it() -> None:
    # Given template.yaml
    # When its import state machine is read
    spec = state_machines(load_template(), LocalStack())["ImportStateMachine"]
    rows = spec.definition["States"]["PostRows"]
    # Then its map reads the file's CSV itself, 100 rows to a child, bounded by the input
    assert rows["ItemReader"]["ReaderConfig"]["InputType"] == "CSV"
    assert rows["ItemBatcher"]["MaxItemsPerBatch"] == 100
    assert rows["MaxConcurrencyPath"] == "$.concurrency"
    task = rows["ItemProcessor"]["States"]["PostBatch"]["Parameters"]["FunctionName"]
    assert spec.functions[task] == "ImportFunction"
