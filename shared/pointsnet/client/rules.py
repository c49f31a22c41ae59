"""A program's earning rules: set the whole set, show it, preview an earn (partner keys for
their own program, admin keys for any)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pointsnet.client.errors import json_object
from pointsnet.client.transport import SignedTransport, path_segment, without_none


class RuleEndpoints(SignedTransport):
    """`/v1/programs/{program}/earning-rules` and its preview."""

    def set_earning_rules(self, program: str, rules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Replace the program's whole rule set; returns it with its new `version`."""
        path = f"/v1/programs/{path_segment(program)}/earning-rules"
        return json_object(self.request("PUT", path, json_body={"rules": [dict(r) for r in rules]}))

    def earning_rules(self, program: str) -> dict[str, Any]:
        """The rule set in force (`version` 0 and no rules when none was set)."""
        path = f"/v1/programs/{path_segment(program)}/earning-rules"
        return json_object(self.request("GET", path))

    def preview_earn(
        self,
        program: str,
        member_id: str,
        *,
        points: int | None = None,
        amount: str | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        action: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """What an earn would give the member now: `points`, `rules`; posts nothing."""
        body = without_none(
            member_id=member_id,
            points=points,
            amount=amount,
            items=[dict(item) for item in items] if items is not None else None,
            action=action,
        )
        path = f"/v1/programs/{path_segment(program)}/earning-rules/preview"
        return self._post(path, body, idempotency_key)
