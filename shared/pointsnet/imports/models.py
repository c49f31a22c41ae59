"""An import as the API shows it, and what it is asked."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from pointsnet.clock import UtcTime
from pointsnet.model import Model
from pointsnet.strict_json import COMMAND_CONFIG


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"  # created: the file goes to upload_url, then start
    RUNNING = "running"
    COMPLETED = "completed"  # every row posted or refused: the result file lists the refused
    FAILED = "failed"  # the run stopped (see `failure`); starting it again resumes it


class CreateImport(Model):
    model_config = COMMAND_CONFIG

    format: str = Field(default="csv", pattern="^csv$", description="The file's format")
    description: str | None = Field(default=None, max_length=256)


class ImportRecord(Model):
    import_id: str
    partner_id: str
    program: str
    status: ImportStatus
    format: str = "csv"
    description: str | None = None
    created_at: UtcTime
    started_at: UtcTime | None = None
    completed_at: UtcTime | None = None
    runs: int = Field(default=0, description="How many times the import was started")
    rows_read: int = 0
    rows_posted: int = Field(default=0, description="Rows posted, by this run or an earlier one")
    rows_refused: int = 0
    failure: str | None = None
    fingerprint: str = Field(default="", exclude=True)


class ImportView(ImportRecord):
    """An import with its links: where to upload the file, and the refused rows once done."""

    upload_url: str | None = Field(
        default=None, description="PUT the file here (valid 1 hour) while awaiting upload"
    )
    result_url: str | None = Field(
        default=None,
        description="Once completed: a CSV of every refused row with its error (valid 1 hour)",
    )


class RefusedRow(Model):
    line: int
    member_id: str
    reference: str
    code: str
    message: str


class BatchTally(Model):
    """What one batch of rows did: written once per batch, however often it is posted."""

    first_line: int
    rows: int
    posted: int
    refused: tuple[RefusedRow, ...] = ()
