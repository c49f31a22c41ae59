"""Webhook function: delivers the events the bus routed to the webhook queue, once each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.observability import logger, metrics, tracer
from pointsnet.wiring import default_webhook_inbox


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_webhook_inbox().handle(event, context)
