"""The cursors a reconciliation run keeps in its checkpoint: a read's position, as opaque text."""

from __future__ import annotations

import base64
import json
from typing import Any


def encode_start_key(key: dict[str, Any]) -> str:
    """A page's `LastEvaluatedKey` (in DynamoDB's typed form) as a cursor."""
    return encode_position({"key": key})


def decode_start_key(cursor: str) -> dict[str, Any]:
    key: dict[str, Any] = decode_position(cursor)["key"]
    return key


def encode_position(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def decode_position(cursor: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    return value
