"""Configuration from the environment, validated once per execution environment."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field

from pointsnet.model import Model


class Settings(Model):
    ledger_table: str = Field(validation_alias="LEDGER_TABLE")
    directory_table: str = Field(validation_alias="DIRECTORY_TABLE")
    key_secret_prefix: str = Field(validation_alias="KEY_SECRET_PREFIX")
    # Upper bound on how long a revoked key can still be accepted.
    key_cache_seconds: int = Field(default=30, ge=0, le=300, validation_alias="KEY_CACHE_SECONDS")
    # A proposed link the other partner has not confirmed lapses after this long.
    link_pending_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, validation_alias="LINK_PENDING_SECONDS"
    )
    # How long a quote holds its rate.
    quote_ttl_seconds: int = Field(default=60, ge=1, le=3600, validation_alias="QUOTE_TTL_SECONDS")
    # Upper bound on how long a changed program policy or earning rule set takes to apply.
    policy_cache_seconds: int = Field(
        default=30, ge=0, le=300, validation_alias="POLICY_CACHE_SECONDS"
    )
    # Where points.*, member.* and settlement.* events are published.
    event_bus_name: str | None = Field(default=None, validation_alias="EVENT_BUS_NAME")
    # Imports: where their files are, the state machine that posts them, and how many of an
    # import's batches post at once (the Distributed Map's MaxConcurrency).
    imports_bucket: str | None = Field(default=None, validation_alias="IMPORTS_BUCKET")
    import_state_machine: str | None = Field(default=None, validation_alias="IMPORT_STATE_MACHINE")
    import_concurrency: int = Field(
        default=10, ge=1, le=1000, validation_alias="IMPORT_CONCURRENCY"
    )
    # Webhooks: where their secrets are kept, and whether a receiver may be on loopback (only a
    # local network's may: on AWS that would be the function's own host).
    webhook_secret_prefix: str = Field(
        default="pointsnet/webhooks/", validation_alias="WEBHOOK_SECRET_PREFIX"
    )
    webhook_loopback: Literal["allowed", "refused"] = Field(
        default="refused", validation_alias="WEBHOOK_LOOPBACK"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
