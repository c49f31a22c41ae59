"""Journal function: writes the ledger table's entry records (its stream) to the journal in S3."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.observability import logger, metrics, tracer
from pointsnet.wiring import default_journal_writer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Any failure raises: Lambda retries the batch (halved), and the journal dedupes it.
    return default_journal_writer().append_stream(event.get("Records", []))
