"""A Distributed Map's items from S3, as Step Functions reads and batches them.

`read_items` makes the items of an `ItemReader` (`s3:getObject`, CSV or JSON) from the
object's bytes; `batches` groups them as `ItemBatcher` does. The interpreter (`asl.py`) calls
these with what its `read_object(bucket, key)` callback read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from typing import Any

S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
ReadObject = Callable[[str, str], bytes]


def check_reader(state: Mapping[str, Any], where: str) -> None:
    reader = state.get("ItemReader")
    if reader is not None:
        if reader.get("Resource") != S3_GET_OBJECT:
            raise ValueError(f"ItemReader resource {reader.get('Resource')} ({where})")
        config = reader.get("ReaderConfig", {})
        if config.get("InputType") not in ("CSV", "JSON"):
            raise ValueError(f"ItemReader InputType {config.get('InputType')} ({where})")
        if set(config) - {"InputType", "CSVHeaderLocation", "CSVHeaders", "MaxItems"}:
            raise ValueError(f"ItemReader ReaderConfig {sorted(config)} ({where})")
    batcher = state.get("ItemBatcher")
    if batcher is not None and set(batcher) - {"MaxItemsPerBatch", "BatchInput"}:
        raise ValueError(f"ItemBatcher {sorted(batcher)} ({where})")


def read_items(reader: Mapping[str, Any], document: bytes) -> list[Any]:
    """The items an `ItemReader` makes of an S3 object: CSV rows as objects of strings keyed
    by the header, or a JSON array's elements."""
    config = reader.get("ReaderConfig", {})
    if config.get("InputType") == "JSON":
        items = json.loads(document)
        if not isinstance(items, list):
            raise ValueError("the JSON object is not an array")
    else:
        rows = csv.reader(io.StringIO(document.decode("utf-8-sig")))
        header = config.get("CSVHeaders") if config.get("CSVHeaderLocation") == "GIVEN" else None
        if header is None:
            header = next(rows, [])
        items = [
            dict(zip(header, row + [""] * (len(header) - len(row)), strict=False))
            for row in rows
            if row
        ]
    limit = int(config.get("MaxItems", 0))
    return items[:limit] if limit else items


def batches(batcher: Mapping[str, Any], items: list[Any], extra: Any) -> list[Any]:
    """ItemBatcher: each child gets `{"Items": [...], "BatchInput": extra}`."""
    size = int(batcher.get("MaxItemsPerBatch", 0)) or len(items) or 1
    return [
        {"Items": items[start : start + size], **({"BatchInput": extra} if extra else {})}
        for start in range(0, len(items), size)
    ]
