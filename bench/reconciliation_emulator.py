"""The local emulator for seeding at scale: its child process answers Query from the asked
partition and loads items straight into a table, with no request for each."""

from __future__ import annotations

import inspect
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

from pointsnet.local.emulator import Emulator, EmulatorError


class PartitionQueryEmulator(Emulator):
    """The local emulator, whose child process answers Query from the asked partition and
    takes items to put straight into a table (`load`), no request each."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self._loads: Connection | None = None
        self._unanswered = 0

    def start(self) -> str:
        from pointsnet.local.processes import start_process

        if self._process is not None:
            return self.endpoint_url
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        loads, child_loads = context.Pipe()
        process = context.Process(
            target=_serve_with_partition_queries,
            args=(self.port, child_end, child_loads),
            name="pointsnet-bench-emulator",
            daemon=True,
        )
        start_process(process)
        child_end.close()
        child_loads.close()
        self._loads = loads
        return self._await_ready(process, parent_end)

    def load(self, table: str, items: list[dict[str, Any]]) -> None:
        """Put `items` (typed, as a request carries them) into `table`, a few lots ahead."""
        if self._loads is None:
            raise EmulatorError("the emulator is not running")
        self._loads.send((table, items))
        self._unanswered += 1
        while self._unanswered > 2:
            self._answer()

    def loaded(self) -> None:
        """Wait until every item sent is in its table."""
        while self._unanswered:
            self._answer()

    def _answer(self) -> None:
        assert self._loads is not None
        status, detail = self._loads.recv()
        self._unanswered -= 1
        if status != "ok":
            raise EmulatorError(f"the emulator could not load items: {detail}")

    def stop(self) -> None:
        if self._loads is not None:
            self._loads.close()
            self._loads, self._unanswered = None, 0
        super().stop()


def _serve_with_partition_queries(port: int, control: Connection, loads: Connection) -> None:
    """Child process: the local emulator's own server, with partition-sized queries, and a
    thread that puts the items `load` sends straight into moto's tables."""
    from pointsnet.local.emulator import _serve_emulator

    install_partition_queries()
    threading.Thread(target=_load_items, args=(loads,), name="loads", daemon=True).start()
    _serve_emulator(port, None, None, control)


def _load_items(loads: Connection) -> None:
    from moto.backends import get_backend

    while True:
        try:
            name, items = loads.recv()
        except (EOFError, OSError):
            return
        try:
            tables = [
                backend.tables[name]
                for regions in dict(get_backend("dynamodb")).values()
                for backend in regions.values()
                if name in backend.tables
            ]
            for item in items:
                tables[0].put_item(item)
        except Exception as exc:  # the parent raises it
            loads.send(("error", f"{type(exc).__name__}: {exc}"))
            continue
        loads.send(("ok", len(items)))


def install_partition_queries() -> None:
    """Give moto's `Table.query` only the items of the partition it is asked for.

    moto's Query walks `all_items()` (the whole table, sorted) to pick the partition, then
    sorts what it picked; here `all_items` answers the partition alone for the call: the base
    table's partition, or, for an index, the items whose index hash key has the asked value
    (kept per table and attribute, and dropped on the table's next write).
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    moto_query, moto_put, moto_delete = Table.query, Table.put_item, Table.delete_item
    moto_update = DynamoDBBackend.update_item
    signature = inspect.signature(moto_query)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs).arguments
        candidates = _partition(self, call.get("hash_key"), call.get("index_name"), call)
        if candidates is None:
            return moto_query(self, *args, **kwargs)
        self.all_items = lambda: candidates  # type: ignore[method-assign]
        try:
            return moto_query(self, *args, **kwargs)
        finally:
            del self.all_items

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        self.__dict__.pop("_bench_by_attribute", None)
        return moto_put(self, *args, **kwargs)

    def delete_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        self.__dict__.pop("_bench_by_attribute", None)
        return moto_delete(self, *args, **kwargs)

    def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        # An update changes the stored item in place: its index keys may move.
        self.get_table(table_name).__dict__.pop("_bench_by_attribute", None)
        return moto_update(self, table_name, *args, **kwargs)

    Table.query = query  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


def _partition(table: Any, hash_key: Any, index_name: str | None, call: dict[str, Any]) -> Any:
    if not index_name:
        if hash_key is None:
            return None
        stored = table.items.get(hash_key)
        if not stored:
            return []
        return list(stored.values()) if table.range_key_attr else [stored]
    conditions = call.get("hash_key_conditions") or []
    if not conditions:
        return None
    name, value = conditions[0]
    by_attribute: dict[str, dict[Any, list[Any]]] = table.__dict__.setdefault(
        "_bench_by_attribute", {}
    )
    if name not in by_attribute:
        by_value: dict[Any, list[Any]] = {}
        for stored in table.items.values():
            for item in stored.values() if table.range_key_attr else [stored]:
                if name in item.attrs:
                    by_value.setdefault(item.attrs[name], []).append(item)
        by_attribute[name] = by_value
    return list(by_attribute[name].get(value, ()))
