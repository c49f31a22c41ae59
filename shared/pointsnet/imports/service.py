"""Imports: create one (an upload URL), start it, follow it; and the run's two steps, a batch
of rows posted and the run finished, which the state machine calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import Conflict, IdempotencyKeyReused, NotFound, PointsNetError
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.imports.models import (
    BatchTally,
    CreateImport,
    ImportRecord,
    ImportStatus,
    ImportView,
    RefusedRow,
)
from pointsnet.imports.ports import ImportFiles, ImportMoved, ImportPort, ImportStarter
from pointsnet.imports.rows import read_row
from pointsnet.ledger.opening import OpeningBalances, OpeningRow
from pointsnet.ledger.views import own_program

# A Distributed Map's CSV items are numbered from 0, the first row after the header (line 1).
FIRST_ROW_LINE = 2
STARTABLE = (ImportStatus.AWAITING_UPLOAD, ImportStatus.FAILED)


class Imports:
    def __init__(
        self,
        store: ImportPort,
        files: ImportFiles,
        opening: OpeningBalances,
        starter: ImportStarter | None,
        *,
        concurrency: int = 10,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.files = files
        self.opening = opening
        self.starter = starter
        self.concurrency = concurrency
        self.clock = clock

    # the partner's requests

    def create(
        self, caller: Caller, command: CreateImport, request: IdempotentRequest
    ) -> tuple[ImportView, bool]:
        """A new import awaiting its file, or (True) the one this key created before."""
        record = ImportRecord(
            import_id=derived_id("imp_", caller.partner_id, request.key),
            partner_id=caller.partner_id,
            program=own_program(caller),
            status=ImportStatus.AWAITING_UPLOAD,
            format=command.format,
            description=command.description,
            created_at=self.clock(),
            fingerprint=request.fingerprint,
        )
        stored = self.store.create(record)
        if stored.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request"
            )
        return self.view(stored), stored.created_at != record.created_at

    def start(self, caller: Caller, import_id: str) -> ImportView:
        """Start reading the uploaded file; a running or completed import is left as it is."""
        record = self._own(caller, import_id)
        if record.status not in STARTABLE:
            return self.view(record)
        if self.starter is None:
            raise PointsNetError("imports cannot be started here: no import state machine")
        if not self.files.uploaded(record):
            raise Conflict(f"import {import_id} has no file yet: PUT it to its upload_url")
        try:
            running = self.store.mark_running(import_id, record.status, self.clock())
        except ImportMoved:
            return self.view(self._own(caller, import_id))
        machine_input = {
            "import_id": import_id,
            "concurrency": self.concurrency,
            **self.files.source(running),
        }
        try:
            # Named by the run: a start that reached Step Functions twice runs once.
            self.starter(f"{import_id}-{running.runs}", machine_input)
        except Exception as exc:
            self.store.finish(import_id, ImportStatus.FAILED, self.clock(), None, str(exc))
            raise
        return self.view(running)

    def get(self, caller: Caller, import_id: str) -> ImportView:
        return self.view(self._own(caller, import_id))

    def view(self, record: ImportRecord) -> ImportView:
        links: dict[str, str] = {}
        if record.status == ImportStatus.AWAITING_UPLOAD:
            links["upload_url"] = self.files.upload_url(record)
        if record.status == ImportStatus.COMPLETED:
            links["result_url"] = self.files.result_url(record)
        return ImportView(**record.model_dump(), **links)

    def _own(self, caller: Caller, import_id: str) -> ImportRecord:
        record = self._record(import_id)
        if record.partner_id != caller.partner_id:
            raise NotFound(f"no import {import_id}")
        return record

    def _record(self, import_id: str) -> ImportRecord:
        record = self.store.get(import_id)
        if record is None:
            raise NotFound(f"no import {import_id}")
        return record

    # the run's steps

    def post_batch(self, import_id: str, items: Sequence[Mapping[str, Any]]) -> BatchTally:
        """Post one batch of the file's rows (`{"line": index, "row": {...}}` each), once."""
        record = self._record(import_id)
        read = [read_row(int(item["line"]) + FIRST_ROW_LINE, item["row"]) for item in items]
        rows = [row for row in read if isinstance(row, OpeningRow)]
        refused = [row for row in read if isinstance(row, RefusedRow)]
        outcomes = self.opening.post(record.partner_id, record.program, import_id, rows)
        refused += [
            RefusedRow(
                line=outcome.line,
                member_id=outcome.member_id,
                reference=outcome.reference,
                code=outcome.error.code,
                message=outcome.error.message,
            )
            for outcome in outcomes
            if outcome.error is not None
        ]
        tally = BatchTally(
            first_line=min((row.line for row in read), default=0),
            rows=len(read),
            posted=sum(1 for outcome in outcomes if outcome.posted),
            refused=tuple(sorted(refused, key=lambda row: row.line)),
        )
        self.store.record_batch(import_id, tally)
        return tally

    def finish(self, import_id: str, failure: str | None = None) -> ImportRecord:
        """End the run: the counts from every batch's tally and the refused rows' file."""
        record = self._record(import_id)
        now = self.clock()
        if failure is not None:
            return self.store.finish(import_id, ImportStatus.FAILED, now, None, failure)
        tallies = list(self.store.tallies(import_id))
        self.files.write_result(record, (row for tally in tallies for row in tally.refused))
        counts = (
            sum(tally.rows for tally in tallies),
            sum(tally.posted for tally in tallies),
            sum(len(tally.refused) for tally in tallies),
        )
        return self.store.finish(import_id, ImportStatus.COMPLETED, now, counts)
