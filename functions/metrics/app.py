"""Metrics function: folds a UTC day of the journal into each program's figures. The daily
schedule computes the day before its scheduled time; `{"day": ...}` computes one day and
`{"from": ..., "to": ...}` back-fills a range, oldest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pointsnet.metrics.requests import MetricsRequest
from pointsnet.observability import logger, metrics, tracer
from pointsnet.wiring import default_program_metrics

# Stop starting days with this much time left; the answer names the day to go on from.
RESERVE_MILLIS = 60_000


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(request_id=context.aws_request_id)
    first, last = MetricsRequest.model_validate(event).days()
    reports = default_program_metrics().compute_days(
        first,
        last,
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVE_MILLIS,
    )
    problems = sum(report.journal_problems for report in reports)
    metrics.add_metric(name="MetricsDaysComputed", unit=MetricUnit.Count, value=len(reports))
    metrics.add_metric(name="MetricsJournalProblems", unit=MetricUnit.Count, value=problems)
    done = reports[-1].day
    return {
        "days": [report.model_dump(mode="json") for report in reports],
        "complete": done == last,
        "next_day": None if done == last else (done + timedelta(days=1)).isoformat(),
    }
