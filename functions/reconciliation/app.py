"""Reconciliation function: the steps of a run (plan, check a shard, settle), as the state
machine asks them; an event without a step runs the whole period in this invocation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.observability import logger, metrics, tracer
from pointsnet.settlement.steps import run_step
from pointsnet.wiring import default_audit, default_reconciler


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(event, default_reconciler(), audit=default_audit)
