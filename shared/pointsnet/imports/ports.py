"""What imports read and write through: the import records and their batch tallies
(`pointsnet.store.import_store.ImportStore`, on the directory table), the files
(`ImportBucket`, on S3), and what starts a run (the state machine)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from pointsnet.imports.models import BatchTally, ImportRecord, ImportStatus, RefusedRow

# Starts the Distributed Map over an import's file: (execution name, the machine's input).
ImportStarter = Callable[[str, dict[str, Any]], None]


class ImportMoved(Exception):
    """The import's status changed since it was read."""


class ImportPort(Protocol):
    def create(self, record: ImportRecord) -> ImportRecord:
        """Store a new import; the one stored already under its id, if there is one."""
        ...

    def get(self, import_id: str) -> ImportRecord | None: ...

    def mark_running(
        self, import_id: str, expected: ImportStatus, started_at: datetime
    ) -> ImportRecord:
        """From `expected` to running, one run more; ImportMoved if it is not `expected`."""
        ...

    def record_batch(self, import_id: str, tally: BatchTally) -> bool:
        """Keep a batch's tally and add it to the import's counts, once; False: kept before."""
        ...

    def tallies(self, import_id: str) -> Iterator[BatchTally]:
        """Every batch's tally, by first line."""
        ...

    def finish(
        self,
        import_id: str,
        status: ImportStatus,
        completed_at: datetime,
        counts: tuple[int, int, int] | None,
        failure: str | None = None,
    ) -> ImportRecord:
        """End the run: completed with (read, posted, refused), or failed with why."""
        ...


class ImportFiles(Protocol):
    def source(self, record: ImportRecord) -> dict[str, str]:
        """Where the run reads the file: the state machine's `bucket` and `key`."""
        ...

    def upload_url(self, record: ImportRecord) -> str: ...

    def uploaded(self, record: ImportRecord) -> bool: ...

    def write_result(self, record: ImportRecord, refused: Iterable[RefusedRow]) -> None: ...

    def result_url(self, record: ImportRecord) -> str: ...
