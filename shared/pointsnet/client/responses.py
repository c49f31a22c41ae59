"""A successful answer of the API, and how the SDK turns raw HTTP into one."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer. `headers` have lower-case names; `body` is parsed JSON or text."""

    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def replayed(self) -> bool:
        """True when the API answered a repeated idempotency key with the first response."""
        return self.headers.get(REPLAYED_HEADER.lower(), "").lower() == "true"


def to_response(status: int, header_items: Sequence[tuple[str, str]], raw: bytes) -> ApiResponse:
    headers = {name.lower(): value for name, value in header_items}
    return ApiResponse(status=status, headers=headers, body=_parse_body(headers, raw))


def _parse_body(headers: Mapping[str, str], raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    content_type = headers.get("content-type", "")
    if "json" in content_type or not content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def retry_after(response: ApiResponse) -> int | None:
    """A 429's Retry-After in whole seconds (at least 1), when it has one in that form."""
    value = response.headers.get("retry-after", "").strip()
    if response.status != 429 or not (value.isascii() and value.isdigit()):
        return None
    return max(1, int(value))
