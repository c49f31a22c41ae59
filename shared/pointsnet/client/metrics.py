"""A program's metrics over a period: partner keys for their own program, finance and admin
keys for any."""

from __future__ import annotations

from datetime import date
from typing import Any

from pointsnet.client.errors import json_object
from pointsnet.client.transport import SignedTransport, path_segment


class MetricsEndpoints(SignedTransport):
    """`GET /v1/programs/{program}/metrics`."""

    def program_metrics(
        self, program: str, period_start: date | str, period_end: date | str
    ) -> dict[str, Any]:
        """The program's figures over the UTC days `period_start`..`period_end` (at most 92,
        not after today): points as integers, money and ratios as decimal strings, with
        `days_missing`, `estimated` and the `formulas`."""
        return json_object(
            self.request(
                "GET",
                f"/v1/programs/{path_segment(program)}/metrics",
                query={"period_start": str(period_start), "period_end": str(period_end)},
            )
        )
