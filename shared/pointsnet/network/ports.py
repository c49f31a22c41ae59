"""What the network reads and writes through: links, quotes, rates, obligations and partners.

`pointsnet.store.network_store.NetworkStore` implements `NetworkPort` on DynamoDB, and
`pointsnet.store.directory_store.DirectoryStore` implements `PartnerLookup`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Protocol

from pointsnet.ledger.models import Obligation
from pointsnet.network.models import LinkedAccount, Rate, StoredLink, StoredQuote
from pointsnet.partners.models import Partner


class AlreadyExists(Exception):
    """The id was taken: the caller reads what is there (usually its own earlier request)."""


class NetworkPort(Protocol):
    def create_link(self, stored: StoredLink) -> None:
        """Raises AlreadyExists when the link id was taken (a retry)."""
        ...

    def get_link(self, link_id: str) -> StoredLink | None: ...

    def confirmed_link(self, confirmed_by: str) -> str | None:
        """The link a confirmation (named by its key) confirmed, if it did."""
        ...

    def activate_link(
        self, stored: StoredLink, confirmed_at: datetime, confirmed_by: str
    ) -> None: ...

    def deactivate_link(
        self, stored: StoredLink, revoked_at: datetime, revoked_by: str
    ) -> None: ...

    def linked_accounts(self, account: str) -> list[LinkedAccount]: ...

    def linked_account(self, account: str, program: str) -> LinkedAccount | None: ...

    def create_quote(self, stored: StoredQuote) -> None:
        """Raises AlreadyExists when the quote id was taken (a retry)."""
        ...

    def get_quote(self, quote_id: str) -> StoredQuote | None: ...

    def obligations_on(self, day: date) -> Iterator[Obligation]: ...

    def put_rate(self, rate: Rate) -> None: ...

    def rate_in_force(self, from_program: str, to_program: str, at: datetime) -> Rate | None: ...

    def program_owner(self, program: str) -> str | None: ...


class PartnerLookup(Protocol):
    def get_partner(self, partner_id: str) -> Partner | None: ...
