"""The one place Powertools' Logger, Tracer and Metrics are configured.

Names and levels come from the POWERTOOLS_* variables in template.yaml Globals.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only botocore: every call the functions make goes through it. Patching all of X-Ray's
# modules imports each one installed (requests, sqlite3, httplib...) at every cold start.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
