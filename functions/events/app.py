"""Events function: publishes the ledger table's stream (the outbox) to the event bus."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.observability import logger, metrics, tracer
from pointsnet.wiring import default_outbox


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_outbox().publish(event.get("Records", []))
