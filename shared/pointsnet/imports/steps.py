"""The import state machine's steps, read from its events with pydantic.

A batch comes from the Distributed Map's `ItemBatcher` as `{"Items": [...], "BatchInput":
{"step": "post", "import_id": ...}}`; the finish step as `{"step": "finish", "import_id":
..., "failure": {"Error": ..., "Cause": ...}}` (failure only when the map failed).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from pointsnet.imports.service import Imports
from pointsnet.model import Model
from pointsnet.observability import logger


class _Item(Model):
    line: int = Field(ge=0, description="The Distributed Map's index of the row")
    row: dict[str, Any]


class _BatchInput(Model):
    step: Literal["post"]
    import_id: str


class PostBatch(Model):
    Items: list[_Item]
    BatchInput: _BatchInput


class _Failure(Model):
    Error: str = ""
    Cause: str = ""


class Finish(Model):
    step: Literal["finish"]
    import_id: str
    failure: _Failure | None = None


def run_step(event: dict[str, Any], imports: Imports) -> dict[str, Any]:
    if "Items" in event:
        batch = PostBatch.model_validate(event)
        tally = imports.post_batch(
            batch.BatchInput.import_id, [item.model_dump() for item in batch.Items]
        )
        # Small on purpose: a Distributed Map keeps every child's answer in its history.
        return {"rows": tally.rows, "posted": tally.posted, "refused": len(tally.refused)}
    finish = Finish.model_validate(event)
    failure = None
    if finish.failure is not None:
        failure = f"{finish.failure.Error}: {finish.failure.Cause}"[:1000]
        logger.warning("import run failed", extra={"import_id": finish.import_id})
    record = imports.finish(finish.import_id, failure)
    return {"import_id": record.import_id, "status": record.status.value}
