"""Count DynamoDB request units from the calls a run makes, by DynamoDB's own sizing rules.

moto reports no ConsumedCapacity for transactions, so the meter works it out: a botocore
event handler on the session sees every call's parameters and response, and a separate,
unhooked client reads each written item just before and just after the write, so that an
update is charged on the larger of its two images, as DynamoDB charges it.

Rules applied (DynamoDB developer guide, "Item sizes and formats" and capacity modes):
- size: attribute names plus values; a number is 1 byte per two significant digits plus 1;
  a list or map adds 3 bytes plus 1 byte per element;
- standard write: 1 unit per KB (rounded up, at least 1) of the larger of the old and new item;
- transactional write (TransactWriteItems, every action including ConditionCheck): 2 units
  per KB per item;
- a global secondary index the write touches: 1 unit per KB of the projected index entry, a
  delete plus a put when the index key changes;
- strongly consistent read: 1 unit per 4 KB (at least 1, also for a missing item); eventually
  consistent reads and every index query half that; a Query or Scan is charged on the sum
  of the items it returns.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from botocore import xform_name

KB = 1024
READ_BLOCK = 4 * KB

# What makes a read return less than it read (and pay for all of it).
NARROWING = ("FilterExpression", "ProjectionExpression", "Select", "AttributesToGet")
# An expression's `#name` and `:value` placeholders.
PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


# -- item sizes --------------------------------------------------------------------------------


def number_size(text: str) -> int:
    """Bytes of a number: 1 per two significant digits (up to 38), plus 1."""
    # Leading and trailing zeros are trimmed; read off the digits, as normalize() would round
    # to the context's 28 digits.
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one typed attribute value ({"S": ...}, {"N": ...}, {"M": {...}}...)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode("utf-8")) for item in content)
    if kind == "NS":
        return sum(number_size(item) for item in content)
    if kind == "BS":
        return sum(len(item) for item in content)
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in content)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + value_size(item) for name, item in content.items()
        )
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of a whole item in DynamoDB's typed form: attribute names plus values."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, consistent: bool) -> float:
    blocks = max(1, math.ceil(size / READ_BLOCK))
    return float(blocks) if consistent else blocks / 2


# -- what a run consumed -------------------------------------------------------------------------


@dataclass
class Consumption:
    """Request units by kind and by item label, and the largest size seen per label."""

    write_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    read_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    item_bytes: dict[str, int] = field(default_factory=dict)
    calls: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    # Items read, by where (table or index): what a read's cost is counted over.
    items_read: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    failed_calls: int = 0

    @property
    def total_write_units(self) -> float:
        return sum(self.write_units.values())

    @property
    def total_read_units(self) -> float:
        return sum(self.read_units.values())

    def add_write(self, label: str, units: float, size: int) -> None:
        self.write_units[label] += units
        self.item_bytes[label] = max(size, self.item_bytes.get(label, 0))

    def add_read(self, label: str, units: float) -> None:
        self.read_units[label] += units

    def per_request(self, requests: int) -> Consumption:
        scaled = Consumption(item_bytes=dict(self.item_bytes), failed_calls=self.failed_calls)
        for label, units in self.write_units.items():
            scaled.write_units[label] = units / requests
        for label, units in self.read_units.items():
            scaled.read_units[label] = units / requests
        for operation, count in self.calls.items():
            scaled.calls[operation] = count / requests
        for where, count in self.items_read.items():
            scaled.items_read[where] = count / requests
        return scaled


# -- the table shapes the meter needs --------------------------------------------------------


@dataclass(frozen=True)
class IndexShape:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[IndexShape, ...]

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.keys}

    def projected(self, index: IndexShape, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The index entry an item makes, or None when it lacks the index key."""
        if not all(name in item for name in index.keys):
            return None
        if index.projection == "ALL":
            return dict(item)
        wanted = set(index.keys) | set(self.keys)
        if index.projection == "INCLUDE":
            wanted |= index.included
        return {name: value for name, value in item.items() if name in wanted}


def describe_shape(client: Any, table_name: str) -> TableShape:
    table = client.describe_table(TableName=table_name)["Table"]
    indexes = tuple(
        IndexShape(
            name=index["IndexName"],
            keys=tuple(key["AttributeName"] for key in index["KeySchema"]),
            projection=index["Projection"]["ProjectionType"],
            included=frozenset(index["Projection"].get("NonKeyAttributes", ())),
        )
        for index in table.get("GlobalSecondaryIndexes", [])
    )
    return TableShape(
        name=table_name,
        keys=tuple(key["AttributeName"] for key in table["KeySchema"]),
        indexes=indexes,
    )


def _narrowed(request: Mapping[str, Any]) -> bool:
    return any(name in request for name in NARROWING)


def _same_key(old: Mapping[str, Any], new: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    return all(old[name] == new[name] for name in names)


def item_label(key: Mapping[str, Any]) -> str:
    """A readable kind of item from its key: `TXN#abc`/`ENTRY` reads `TXN/ENTRY`."""
    parts = []
    for value in key.values():
        prefix = str(next(iter(value.values()))).split("#", 1)[0]
        # A key's kind is its upper-case prefix; a sort key that is a time or an id has none.
        parts.append(prefix if prefix.isalpha() and prefix.isupper() else "*")
    return "/".join(parts)


# -- the meter -----------------------------------------------------------------------------------


@dataclass
class _PendingWrite:
    table: str
    key: dict[str, Any]
    before: dict[str, Any] | None
    transactional: bool


class CapacityMeter:
    """Hooks a botocore session and counts DynamoDB request units while `measuring()`.

    `inspector` makes a DynamoDB client of another botocore session (so its own calls are
    not counted) for the same endpoint; it reads item images around each write.
    """

    def __init__(self, inspector: Callable[[], Any]) -> None:
        self._make_inspector = inspector
        self._inspector: Any = None
        self.consumption = Consumption()
        self._active = False
        self._shapes: dict[str, TableShape] = {}

    def install(self, events: Any) -> None:
        """Register on a botocore event emitter (a session's: every client made after sees it)."""
        events.register("provide-client-params.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)

    @contextmanager
    def measuring(self) -> Iterator[Consumption]:
        self.consumption = Consumption()
        self._active = True
        try:
            yield self.consumption
        finally:
            self._active = False

    # botocore handlers

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if not self._active:
            return
        operation = model.name
        pending: list[_PendingWrite] = []
        if operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                ((kind, body),) = action.items()
                key = body["Item"] if kind == "Put" else body["Key"]
                pending.append(self._pending(body["TableName"], key, transactional=True))
        elif operation in WRITE_OPERATIONS:
            key = params["Item"] if operation == "PutItem" else params["Key"]
            pending.append(self._pending(params["TableName"], key, transactional=False))
        context["pointsnet_bench"] = (operation, dict(params), pending)

    def _after(
        self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        recorded = context.pop("pointsnet_bench", None)
        if recorded is None or not self._active:
            return
        operation, params, pending = recorded
        self.consumption.calls[operation] += 1
        succeeded = http_response.status_code < 300
        if not succeeded:
            # A refused write is charged all the same; counted so a run can say how many.
            self.consumption.failed_calls += 1
        if operation == "TransactWriteItems":
            actions = [next(iter(action)) for action in params.get("TransactItems", [])]
            for kind, write in zip(actions, pending, strict=True):
                self._charge_write(write, succeeded, condition_only=kind == "ConditionCheck")
        elif operation in WRITE_OPERATIONS:
            self._charge_write(pending[0], succeeded, condition_only=False)
        elif operation == "GetItem":
            # A projection changes what is returned, not what is read: the whole item is charged.
            item = parsed.get("Item")
            if succeeded and _narrowed(params):
                item = self._read(params["TableName"], params["Key"])
            label = item_label(params["Key"])
            self.consumption.items_read[params["TableName"]] += 1 if item else 0
            self.consumption.add_read(
                label, read_units(item_size(item), bool(params.get("ConsistentRead")))
            )
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                consistent = bool(request.get("ConsistentRead"))
                found = parsed.get("Responses", {}).get(table, [])
                if _narrowed(request):
                    # Each item found is charged whole; the keys say which, whatever was projected.
                    returned = len(found)
                    found = [
                        item for item in map(partial(self._read, table), request["Keys"]) if item
                    ]
                    if len(found) != returned:
                        raise RuntimeError(
                            f"BatchGetItem on {table}: unprocessed keys are not metered"
                        )
                self.consumption.items_read[table] += len(found)
                for item in found:
                    label = item_label(self._shape(table).key_of(item))
                    self.consumption.add_read(label, read_units(item_size(item), consistent))
        elif operation == "TransactGetItems":
            gets = params.get("TransactItems", [])
            # A refused transaction answers no items; each Get is charged all the same.
            responses = parsed.get("Responses") or [{}] * len(gets)
            for action, response in zip(gets, responses, strict=True):
                get = action["Get"]
                item = self._read(get["TableName"], get["Key"]) if _narrowed(get) else None
                item = item or response.get("Item")
                self.consumption.add_read("transactional", 2 * read_units(item_size(item), True))
        elif operation in ("Query", "Scan"):
            evaluated = self._evaluated(operation, params) if _narrowed(params) else parsed["Items"]
            total = sum(item_size(item) for item in evaluated)
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            where = params.get("IndexName") or params["TableName"]
            self.consumption.items_read[where] += len(evaluated)
            self.consumption.add_read(f"{operation} {where}", read_units(total, consistent))

    def _evaluated(self, operation: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The items a Query or Scan read: its key condition and limit, before any filter or
        projection (both apply after the read, so neither lowers what it costs)."""
        request = {name: value for name, value in params.items() if name not in NARROWING}
        kept = set(PLACEHOLDER.findall(str(request.get("KeyConditionExpression", ""))))
        for placeholders in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if placeholders in request:
                used = {name: v for name, v in request[placeholders].items() if name in kept}
                if used:
                    request[placeholders] = used
                else:
                    del request[placeholders]
        items: list[dict[str, Any]] = getattr(self.inspector, xform_name(operation))(**request)[
            "Items"
        ]
        return items

    # writes

    def _pending(
        self, table: str, item_or_key: Mapping[str, Any], *, transactional: bool
    ) -> _PendingWrite:
        key = self._shape(table).key_of(item_or_key)
        return _PendingWrite(table, key, self._read(table, key), transactional)

    def _charge_write(self, write: _PendingWrite, succeeded: bool, *, condition_only: bool) -> None:
        after = (
            self._read(write.table, write.key) if succeeded and not condition_only else write.before
        )
        size = max(item_size(write.before), item_size(after))
        label = item_label(write.key)
        if condition_only:
            label += " (condition)"
        factor = 2 if write.transactional else 1
        self.consumption.add_write(label, factor * write_units(size), size)
        if succeeded and not condition_only:
            self._charge_indexes(write.table, write.before, after)

    def _charge_indexes(
        self, table: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        shape = self._shape(table)
        for index in shape.indexes:
            old = shape.projected(index, before or {})
            new = shape.projected(index, after or {})
            label = f"index {index.name}"
            if old is not None and new is not None and _same_key(old, new, index.keys):
                if old != new:
                    size = max(item_size(old), item_size(new))
                    self.consumption.add_write(label, write_units(size), size)
                continue
            # The entry appears, disappears, or moves (a delete and a put).
            for image in (old, new):
                if image is not None:
                    size = item_size(image)
                    self.consumption.add_write(label, write_units(size), size)

    # the inspector's view

    @property
    def inspector(self) -> Any:
        if self._inspector is None:
            self._inspector = self._make_inspector()
        return self._inspector

    def _shape(self, table: str) -> TableShape:
        if table not in self._shapes:
            self._shapes[table] = describe_shape(self.inspector, table)
        return self._shapes[table]

    def _read(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.inspector.get_item(
            TableName=table, Key=dict(key), ConsistentRead=True
        ).get("Item")
        return item
