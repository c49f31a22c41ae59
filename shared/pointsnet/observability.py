"""The one place Powertools' Logger, Tracer and Metrics are configured.

Names and levels come from the POWERTOOLS_* variables in template.yaml Globals.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
