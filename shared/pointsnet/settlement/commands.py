"""What finance and operators ask of settlements: the validated bodies of their requests."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from pointsnet.model import Model
from pointsnet.settlement.models import Period
from pointsnet.strict_json import COMMAND_CONFIG

Reason = Annotated[str, Field(min_length=1, max_length=500)]


class _Command(Model):
    model_config = COMMAND_CONFIG


class StartSettlementRun(Period):
    """A run of the UTC days `period_start`..`period_end`, both included: `period_start` is not
    after `period_end`, which is not after today (UTC), and the period is at most 366 days."""

    model_config = COMMAND_CONFIG

    reason: Reason | None = Field(default=None, description="Why the run is started")


class ApproveSettlement(_Command):
    reason: Reason | None = Field(default=None, description="A note kept in the audit trail")


class DisputeSettlement(_Command):
    reason: Reason = Field(description="What is contested; kept in the audit trail")


class MarkSettlementPaid(_Command):
    payment_reference: str = Field(
        min_length=1, max_length=128, description="The bank transfer or payment run reference"
    )
    reason: Reason | None = Field(default=None, description="A note kept in the audit trail")
