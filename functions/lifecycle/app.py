"""Lifecycle function: on a schedule, voids timed-out holds, expires lapsed points, records
expiry notices and lets tiers fall as months leave the window."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.clock import utc_now
from pointsnet.ledger.sweeps import SweepRequest
from pointsnet.observability import logger, metrics, tracer
from pointsnet.wiring import default_sweeper

# Stop taking new items with this much time left; what remains stays due for the next run.
RESERVE_MILLIS = 15_000


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The sweep's postings are logged with the invocation's id, as API postings are with theirs.
    logger.append_keys(request_id=context.aws_request_id)
    request = SweepRequest.model_validate(event)
    report = default_sweeper().run(
        request.job,
        request.scheduled_time or utc_now(),
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVE_MILLIS,
    )
    for name in ("holds_voided", "lots_expired", "lots_noticed", "accounts_reviewed", "failed"):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=getattr(report, name))
    logger.info("sweep done", extra=report.model_dump(mode="json"))
    return report.model_dump(mode="json")
