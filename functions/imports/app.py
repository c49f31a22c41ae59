"""Import function: the steps of an import's run, as its state machine asks them (a batch of
the file's rows to post, then finish)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.imports.steps import run_step
from pointsnet.observability import logger, metrics, tracer
from pointsnet.wiring import default_imports


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(event, default_imports())
