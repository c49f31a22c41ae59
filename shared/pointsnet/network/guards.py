"""What an exchange or a cross-partner posting checks in the same write as its entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pointsnet.ledger.port import Guard


@dataclass(frozen=True)
class LinkActive(Guard):
    """The link the posting relies on is still active when it commits."""

    name: ClassVar[str] = "link"
    link_id: str


@dataclass(frozen=True)
class QuoteUse(Guard):
    """Consume an open, unexpired quote: a quote moves points at most once."""

    name: ClassVar[str] = "quote"
    quote_id: str
    now: datetime
    exchange_id: str
