"""Configuration of the settlement functions, from the environment template.yaml sets."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import Field

from pointsnet.model import Model


class SettlementSettings(Model):
    ledger_table: str = Field(validation_alias="LEDGER_TABLE")
    settlement_table: str = Field(validation_alias="SETTLEMENT_TABLE")
    reports_bucket: str = Field(validation_alias="REPORTS_BUCKET")
    journal_bucket: str = Field(default="", validation_alias="JOURNAL_BUCKET")
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", validation_alias="SETTLEMENT_CURRENCY"
    )
    # Set where runs start the state machine (its Distributed Map checks the shards in
    # parallel); without it a run checks its shards in the requesting process.
    state_machine_arn: str | None = Field(
        default=None, validation_alias="RECONCILIATION_STATE_MACHINE"
    )


@lru_cache(maxsize=1)
def get_settlement_settings() -> SettlementSettings:
    return SettlementSettings.model_validate(dict(os.environ))
