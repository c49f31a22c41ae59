"""What partners do across programs: links between members, rates, quotes and exchanges.

Calls made with a partner key; both partners of a link or an exchange take part.
"""

from __future__ import annotations

from typing import Any

from pointsnet.client.errors import json_object
from pointsnet.client.transport import SignedTransport, path_segment


class NetworkEndpoints(SignedTransport):
    """The partner endpoints under `/v1/links`, `/v1/rates`, `/v1/quotes`, `/v1/exchanges`."""

    def propose_link(
        self,
        member_id: str,
        partner_program: str,
        partner_member_id: str,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Propose linking your member to a member of another program; it starts `pending`."""
        body = {
            "member_id": member_id,
            "partner_program": partner_program,
            "partner_member_id": partner_member_id,
        }
        return self._post("/v1/links", body, idempotency_key)

    def confirm_link(self, link_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Confirm a link the other partner proposed; it becomes `active`."""
        return self._post(f"/v1/links/{path_segment(link_id)}/confirm", {}, idempotency_key)

    def revoke_link(self, link_id: str) -> dict[str, Any]:
        """Revoke a link (either side may); it becomes `revoked`."""
        return json_object(self.request("DELETE", f"/v1/links/{path_segment(link_id)}"))

    def get_link(self, link_id: str) -> dict[str, Any]:
        return json_object(self.request("GET", f"/v1/links/{path_segment(link_id)}"))

    def get_rate(self, from_program: str, to_program: str) -> dict[str, Any]:
        """The rate in force: points of `to` per point of `from`, a decimal string."""
        return json_object(
            self.request("GET", "/v1/rates", query={"from": from_program, "to": to_program})
        )

    def create_quote(
        self,
        member_id: str,
        from_program: str,
        to_program: str,
        points: int,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Lock the rate for an exchange: `points_out`, `points_in`, `expires_at`."""
        body = {
            "member_id": member_id,
            "from_program": from_program,
            "to_program": to_program,
            "points": points,
        }
        return self._post("/v1/quotes", body, idempotency_key)

    def exchange(self, quote_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Move the quoted points between programs, both legs at once."""
        return self._post("/v1/exchanges", {"quote_id": quote_id}, idempotency_key)
