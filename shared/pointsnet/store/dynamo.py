"""Shared DynamoDB plumbing: clients, item (de)serialisation and error translation."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from pointsnet.errors import RateLimited, StoreUnavailable

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


@cache
def dynamodb_client() -> Any:
    # Standard retry mode retries throttling and transaction conflicts with jitter.
    return boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 4}))


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: _serializer.serialize(value) for name, value in values.items() if value is not None
    }


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def to_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Expression attribute values in DynamoDB's typed form."""
    return {name: _serializer.serialize(value) for name, value in values.items()}


def translate_client_error(exc: ClientError) -> Exception:
    """A domain error for a boto failure that no caller handles more specifically."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code in THROTTLING_CODES:
        return RateLimited("the ledger is busy; retry with the same Idempotency-Key")
    return StoreUnavailable(f"the data store failed ({code or 'unknown'})")
