"""What the network's operator does with an admin key: partners, keys, limits, rates, runs.

The TypedDicts are the shapes the admin API answers, without the server's models.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NotRequired, TypedDict, cast

from pointsnet.client.errors import json_object
from pointsnet.client.responses import ApiResponse
from pointsnet.client.transport import (
    SignedTransport,
    decimal_text,
    path_segment,
    without_none,
)


class Partner(TypedDict):
    """A partner of the network, as the admin API answers it."""

    partner_id: str
    name: str
    program: NotRequired[str]
    point_value: NotRequired[str]  # a decimal string, never a float
    currency: str
    created_at: str
    signing: NotRequired[PartnerSigning]
    rate_limit: NotRequired[PartnerRateLimit]


class PartnerRateLimit(TypedDict):
    """A partner's request rate limit, shared by all its keys."""

    rate: int  # requests per second
    burst: int


class PartnerSigning(TypedDict):
    """What a partner's requests must be signed with."""

    minimum_version: int  # 2: v1 signatures are refused


class ApiKey(TypedDict):
    """An API key as listed: never its secret."""

    key_id: str
    partner_id: str
    role: str
    status: str
    created_at: str
    revoked_at: NotRequired[str | None]


class IssuedKey(ApiKey):
    """A new API key with its secret, which the API shows this once only."""

    secret: str


class AdminEndpoints(SignedTransport):
    """The admin endpoints: `/v1/partners` and what hangs off it, rates, settlement runs."""

    def create_partner(
        self,
        partner_id: str,
        name: str,
        program: str,
        point_value: Decimal | str,
        *,
        currency: str | None = None,
        idempotency_key: str | None = None,
    ) -> Partner:
        """Add a partner and its program; `point_value` is what one point is worth."""
        body = without_none(
            partner_id=partner_id,
            name=name,
            program=program,
            point_value=decimal_text(point_value),
            currency=currency,
        )
        return cast(Partner, self._post("/v1/partners", body, idempotency_key))

    def list_partners(self) -> list[Partner]:
        """Every partner of the network."""
        return cast(
            list[Partner], json_object(self.request("GET", "/v1/partners")).get("items", [])
        )

    def issue_key(
        self, partner_id: str, role: str = "partner", *, idempotency_key: str | None = None
    ) -> IssuedKey:
        """Issue a key of `role` to a partner; the answer holds its secret, shown only this once.

        A retry with the same idempotency key after the secret was created raises
        `PointsNetError` with code `conflict` rather than showing the secret again.
        """
        path = f"/v1/partners/{path_segment(partner_id)}/keys"
        return cast(IssuedKey, self._post(path, {"role": role}, idempotency_key))

    def set_rate_limit(self, partner_id: str, rate: int, burst: int) -> Partner:
        """Limit all the partner's keys to `rate` requests a second, bursts up to `burst`."""
        path = f"/v1/partners/{path_segment(partner_id)}/rate-limit"
        body = {"rate": rate, "burst": burst}
        return cast(Partner, json_object(self.request("PUT", path, json_body=body)))

    def set_signing(self, partner_id: str, minimum_version: int) -> Partner:
        """Set the lowest signature version the partner's keys may use (2: v2-only)."""
        path = f"/v1/partners/{path_segment(partner_id)}/signing"
        body = {"minimum_version": minimum_version}
        return cast(Partner, json_object(self.request("PUT", path, json_body=body)))

    def list_keys(self, partner_id: str) -> list[ApiKey]:
        """A partner's keys, revoked ones included, without secrets."""
        response = self.request("GET", f"/v1/partners/{path_segment(partner_id)}/keys")
        return cast(list[ApiKey], json_object(response).get("items", []))

    def revoke_key(self, partner_id: str, key_id: str) -> ApiKey:
        """Revoke a key; it is refused within the network's KeyCacheSeconds (30 s by default)."""
        path = f"/v1/partners/{path_segment(partner_id)}/keys/{path_segment(key_id)}"
        return cast(ApiKey, json_object(self.request("DELETE", path)))

    def set_rate(
        self,
        from_program: str,
        to_program: str,
        rate: Decimal | str,
        *,
        price: Decimal | str | None = None,
        effective_from: str | None = None,
    ) -> dict[str, Any]:
        """Publish a rate (admin); earlier rates stay in history."""
        body = without_none(
            rate=decimal_text(rate),
            price=decimal_text(price) if price is not None else None,
            effective_from=effective_from,
        )
        return json_object(
            self.request(
                "PUT",
                f"/v1/rates/{path_segment(from_program)}/{path_segment(to_program)}",
                json_body=body,
            )
        )

    def start_settlement_run(
        self,
        period_start: date | str,
        period_end: date | str,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> ApiResponse:
        """Reconcile and settle the UTC days `period_start`..`period_end` (admin).

        201: the body is the settlement. 202: the run kept its progress (the body) and needs
        the same call again, with the same `idempotency_key`, to carry on.
        """
        body = without_none(
            period_start=str(period_start), period_end=str(period_end), reason=reason
        )
        return self.request(
            "POST", "/v1/settlement-runs", json_body=body, idempotency_key=idempotency_key
        )

    def set_policy(self, partner_id: str, policy: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a program's policy (admin): `expiry`, `tiers`, `hold_timeout_days`."""
        path = f"/v1/partners/{path_segment(partner_id)}/policy"
        return json_object(self.request("PUT", path, json_body=dict(policy)))

    def get_policy(self, partner_id: str) -> dict[str, Any]:
        """A program's policy (admin); the default when none was set."""
        return json_object(self.request("GET", f"/v1/partners/{path_segment(partner_id)}/policy"))
