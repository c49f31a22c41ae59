"""Links, rates, quotes and obligations as stored and shown."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.ledger.models import ObligationTerms
from pointsnet.model import Model


class LinkStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class LinkParty(Model):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    program: str
    member_id: str


class Link(Model):
    """A consented connection between a member at one partner and a member at another."""

    model_config = ConfigDict(frozen=True)

    link_id: str
    status: LinkStatus
    proposer: LinkParty
    counterparty: LinkParty
    created_at: UtcTime
    expires_at: UtcTime | None = Field(
        default=None, description="A pending link lapses at this time unless confirmed"
    )
    confirmed_at: UtcTime | None = None
    revoked_at: UtcTime | None = None
    revoked_by: str | None = None

    def involves(self, partner_id: str) -> bool:
        return partner_id in (self.proposer.partner_id, self.counterparty.partner_id)

    def party_of(self, partner_id: str) -> LinkParty:
        return self.proposer if self.proposer.partner_id == partner_id else self.counterparty

    def other_party(self, partner_id: str) -> LinkParty:
        return self.counterparty if self.proposer.partner_id == partner_id else self.proposer

    def as_of(self, now: datetime) -> Link:
        """The link as a reader sees it now: a pending link past its time has expired."""
        if self.status == LinkStatus.PENDING and self.expires_at and now >= self.expires_at:
            return self.model_copy(update={"status": LinkStatus.EXPIRED})
        return self


class StoredLink(Model):
    link: Link
    fingerprint: str
    confirmed_by: str | None = Field(
        default=None, description="Derived from the partner and key that confirmed the link"
    )


class LinkedAccount(Model):
    """One active link seen from a member: the other program and who the member is there."""

    model_config = ConfigDict(frozen=True)

    link_id: str
    partner_id: str
    program: str
    member_id: str
    confirmed_at: UtcTime | None = Field(
        default=None,
        description="When the link was confirmed; null for a link confirmed before the "
        "network recorded it here (GET /v1/links/{link_id} has it)",
    )


class Rate(Model):
    model_config = ConfigDict(frozen=True)

    from_program: str = Field(serialization_alias="from")
    to_program: str = Field(serialization_alias="to")
    rate: Decimal = Field(description="Points of `to` per point of `from`")
    price: Decimal | None = Field(
        default=None,
        description="Money per point of `from` that `from`'s owner pays `to`'s owner; "
        "by default the price is `to`'s point value for each point received",
    )
    effective_from: UtcTime
    set_by: str | None = None


class QuoteStatus(StrEnum):
    OPEN = "open"
    USED = "used"


class Quote(Model):
    model_config = ConfigDict(frozen=True)

    quote_id: str
    partner_id: str = Field(description="The partner that asked for the quote")
    member_id: str
    from_program: str
    to_program: str
    rate: Decimal
    points_out: int
    points_in: int
    expires_at: UtcTime
    created_at: UtcTime
    status: QuoteStatus = QuoteStatus.OPEN
    # What the exchange will debit, credit and check; kept so execution needs no look-ups.
    source: LinkedAccount
    destination: LinkedAccount
    link_ids: tuple[str, ...]
    obligation: ObligationTerms


class StoredQuote(Model):
    quote: Quote
    fingerprint: str
