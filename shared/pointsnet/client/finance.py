"""What the network's finance team does with a finance key: review, approve and pay settlements."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pointsnet.client.errors import json_object
from pointsnet.client.transport import SignedTransport, path_segment, without_none


class FinanceEndpoints(SignedTransport):
    """The finance endpoints under `/v1/settlements`."""

    def list_settlements(
        self,
        *,
        status: str | None = None,
        period_start: date | str | None = None,
        period_end: date | str | None = None,
    ) -> list[dict[str, Any]]:
        """Settlements, oldest period first; periods starting on or after `period_start` and
        ending on or before `period_end`."""
        query = {
            "status": status,
            "period_start": str(period_start) if period_start else None,
            "period_end": str(period_end) if period_end else None,
        }
        items = json_object(self.request("GET", "/v1/settlements", query=query)).get("items", [])
        return list(items)

    def get_settlement(self, settlement_id: str) -> dict[str, Any]:
        """A settlement: lines, bilateral netting, net positions, checks and audit trail."""
        return json_object(self.request("GET", f"/v1/settlements/{path_segment(settlement_id)}"))

    def settlement_report(self, settlement_id: str, report_format: str = "json") -> str:
        """The report's text: `csv`, `json` or `html`."""
        response = self.request(
            "GET",
            f"/v1/settlements/{path_segment(settlement_id)}/report",
            query={"format": report_format},
        )
        if isinstance(response.body, str):
            return response.body
        return json.dumps(response.body, indent=2, ensure_ascii=False) + "\n"

    def approve_settlement(
        self,
        settlement_id: str,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Approve a `draft` or `needs_review` settlement; its figures never change again."""
        path = f"/v1/settlements/{path_segment(settlement_id)}/approve"
        return self._post(path, without_none(reason=reason), idempotency_key)

    def dispute_settlement(
        self, settlement_id: str, reason: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Dispute a `draft` or `needs_review` settlement; the next run of its period redoes it."""
        path = f"/v1/settlements/{path_segment(settlement_id)}/dispute"
        return self._post(path, {"reason": reason}, idempotency_key)

    def mark_settlement_paid(
        self,
        settlement_id: str,
        payment_reference: str,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record the payment of an `approved` settlement."""
        path = f"/v1/settlements/{path_segment(settlement_id)}/mark-paid"
        body = without_none(payment_reference=payment_reference, reason=reason)
        return self._post(path, body, idempotency_key)
