"""Reconciliation function: run by the schedule (the previous UTC day) or by itself to carry on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.observability import logger, metrics, tracer
from pointsnet.settlement.scheduled import run_scheduled
from pointsnet.wiring import default_continuation, default_reconciler


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_scheduled(
        event,
        context.get_remaining_time_in_millis,
        reconciler=default_reconciler(),
        continue_run=default_continuation(),
    )
