"""Configuration of the settlement functions, from the environment template.yaml sets."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class SettlementSettings(BaseModel):
    ledger_table: str = Field(validation_alias="LEDGER_TABLE")
    settlement_table: str = Field(validation_alias="SETTLEMENT_TABLE")
    reports_bucket: str = Field(validation_alias="REPORTS_BUCKET")
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", validation_alias="SETTLEMENT_CURRENCY"
    )
    # Items a run reads per page: each page is one checkpoint.
    page_size: int = Field(default=1000, ge=1, le=10_000, validation_alias="SETTLEMENT_PAGE_SIZE")
    # Set by Lambda: where a run that needs another invocation hands over.
    function_name: str | None = Field(default=None, validation_alias="AWS_LAMBDA_FUNCTION_NAME")


@lru_cache(maxsize=1)
def get_settlement_settings() -> SettlementSettings:
    return SettlementSettings.model_validate(dict(os.environ))
