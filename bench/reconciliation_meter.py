"""Metering the SDK's requests: DynamoDB read units priced from each response, S3 bytes from
each GetObject, and the time each request takes."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.capacity import item_size, read_units, write_units

# -- metering the SDK's requests -----------------------------------------------------------------


@dataclass
class RequestMeter:
    """DynamoDB request units and S3 requests and bytes, priced from each call's request and
    response (moto reports no ConsumedCapacity).

    Item sizes follow DynamoDB's rules on each item's typed JSON as it crossed the wire
    (`bench.capacity.item_size`: names plus values, a number 1 byte per two digits plus 1, a
    map or list 3 bytes plus 1 per element). GetItem: ceil(size / 4 KB) units, at least 1 (also
    for a missing item), half for an eventually consistent read; BatchGetItem the same per key;
    Query: ceil(sum of the items' sizes / 4 KB), at least 1, half when eventually consistent
    (every index query). A projection is charged as the item returned, at least one block:
    exact for the items read here (a balance is far under 4 KB). Writes: ceil(size / 1 KB) of
    the item put, or of an update's key and values.
    """

    read_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    write_units: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    s3_get_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def install(self, events: Any) -> None:
        """On a client's or a session's event emitter (a session's: clients made after it)."""
        events.register("provide-client-params.dynamodb", self._keep_params)
        events.register("after-call.dynamodb", self._dynamodb)
        events.register("after-call.s3", self._s3)

    def figures(self) -> dict[str, Any]:
        """What was counted, in a form that crosses a process boundary."""
        return {
            "read_units": dict(self.read_units),
            "write_units": dict(self.write_units),
            "calls": dict(self.calls),
            "s3_get_bytes": self.s3_get_bytes,
        }

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def _dynamodb(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        params = context.pop("bench_params", {})
        operation = model.name
        reads: list[tuple[str, float]] = []
        writes: list[tuple[str, float]] = []
        tables = params.get("RequestItems", {}) if operation == "BatchGetItem" else {}
        where = _short(params.get("IndexName") or params.get("TableName") or ",".join(tables))
        if operation == "GetItem":
            consistent = bool(params.get("ConsistentRead"))
            reads.append((where, read_units(item_size(parsed.get("Item")), consistent)))
        elif operation == "BatchGetItem":
            for table, request in params.get("RequestItems", {}).items():
                consistent = bool(request.get("ConsistentRead"))
                found = parsed.get("Responses", {}).get(table, [])
                left = parsed.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
                missing = len(request["Keys"]) - len(found) - len(left)
                units = sum(read_units(item_size(item), consistent) for item in found)
                reads.append((_short(table), units + missing * read_units(0, consistent)))
        elif operation in ("Query", "Scan"):
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            size = sum(item_size(item) for item in parsed.get("Items", []))
            reads.append((where, read_units(size, consistent)))
        elif operation == "PutItem":
            writes.append((where, write_units(item_size(params["Item"]))))
        elif operation in ("UpdateItem", "DeleteItem"):
            size = item_size(params["Key"]) + item_size(params.get("ExpressionAttributeValues"))
            writes.append((where, write_units(size)))
        with self.lock:
            self.calls[f"{operation} {where}"] += 1
            for label, units in reads:
                self.read_units[f"{operation} {label}"] += units
            for label, units in writes:
                self.write_units[f"{operation} {label}"] += units

    def _s3(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        with self.lock:
            self.calls[f"s3 {model.name}"] += 1
            if model.name == "GetObject":
                self.s3_get_bytes += int(parsed.get("ContentLength", 0))


def _short(name: str) -> str:
    """`pointsnet-local-LedgerTable` reads `LedgerTable`; an index name stays as it is."""
    return name.rsplit("-", 1)[-1]


@dataclass(frozen=True)
class Metered:
    read_units: dict[str, float]
    write_units: dict[str, float]
    calls: dict[str, int]
    s3_get_bytes: int

    @classmethod
    def of(cls, *parts: Mapping[str, Any]) -> Metered:
        reads: dict[str, float] = defaultdict(float)
        writes: dict[str, float] = defaultdict(float)
        calls: Counter[str] = Counter()
        for part in parts:
            for label, units in part["read_units"].items():
                reads[label] += units
            for label, units in part["write_units"].items():
                writes[label] += units
            calls.update(part["calls"])
        total = sum(part["s3_get_bytes"] for part in parts)
        return cls(dict(reads), dict(writes), dict(calls), total)

    @property
    def total_read_units(self) -> float:
        return sum(self.read_units.values())

    @property
    def total_write_units(self) -> float:
        return sum(self.write_units.values())

    def count(self, prefix: str) -> int:
        return sum(number for label, number in self.calls.items() if label.startswith(prefix))

    def ledger_read_units(self) -> float:
        """Units read from the ledger table and its index: they grow with the day's entries."""
        return sum(
            units
            for label, units in self.read_units.items()
            if label.endswith(("LedgerTable", "ByAccount"))
        )
