"""What a partner does for its members: earn and burn, holds, reversals, transactions.

Calls made with a partner key, on the calling partner's own program.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pointsnet.client.errors import json_object
from pointsnet.client.transport import SignedTransport, path_segment, without_none

# What a transaction without postings to read takes from its member; the rest credit.
DEBIT_TYPES = frozenset({"burn", "expiry"})


def member_points(transaction: Mapping[str, Any]) -> int:
    """The points a transaction moved for its member, signed: +100 credited, -30 debited.

    A transaction's `points` is never negative; its postings say which way they went: the
    member's account (`member:<partner_id>:<member_id>`), or for a hold or a void, which
    move only held points, the member's pending account. A burn, an expiry, an exchange's
    debit leg or the reversal of an earn is negative; an earn, a capture or the reversal of a
    burn positive. Without postings, a burn or an expiry is a debit, anything else a credit.
    """
    points = abs(int(transaction.get("points") or 0))
    owner = f"{transaction.get('partner_id')}:{transaction.get('member_id')}"
    postings = transaction.get("postings") or []
    for account in (f"member:{owner}", f"pending:{owner}"):
        moved = sum(int(leg.get("points", 0)) for leg in postings if leg.get("account") == account)
        if moved:
            return moved
    return -points if transaction.get("type") in DEBIT_TYPES else points


class MemberEndpoints(SignedTransport):
    """The partner endpoints under `/v1/members` and `/v1/transactions`."""

    def earn(
        self,
        member_id: str,
        points: int | None,
        reference: str,
        *,
        program: str | None = None,
        description: str | None = None,
        pending: bool | None = None,
        amount: str | None = None,
        items: Sequence[Mapping[str, Any]] | None = None,
        action: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Credit points to a member; returns `transaction` and `balance`. Give `points`, or
        an `amount` (with its `items`) or an `action` for the program's rules to price."""
        body = without_none(
            points=points,
            amount=amount,
            items=[dict(item) for item in items] if items is not None else None,
            action=action,
            reference=reference,
            program=program,
            description=description,
            pending=pending,
        )
        return self._post(f"/v1/members/{path_segment(member_id)}/earn", body, idempotency_key)

    def refer(
        self, member_id: str, referred_member_id: str, *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Record that `member_id` referred a new member of the same partner."""
        path = f"/v1/members/{path_segment(member_id)}/referrals"
        return self._post(path, {"referred_member_id": referred_member_id}, idempotency_key)

    def burn(
        self,
        member_id: str,
        points: int,
        reference: str,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Debit points from a member; 409 `insufficient_points` when the balance is short."""
        body = without_none(points=points, reference=reference, description=description)
        return self._post(f"/v1/members/{path_segment(member_id)}/burn", body, idempotency_key)

    def get_member(self, member_id: str) -> dict[str, Any]:
        """A member with its `balance` (`available`, `pending`) and `links`."""
        return json_object(self.request("GET", f"/v1/members/{path_segment(member_id)}"))

    def list_transactions(
        self, member_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of a member's transactions, newest first: `items` and `next_cursor`."""
        response = self.request(
            "GET",
            f"/v1/members/{path_segment(member_id)}/transactions",
            query={"limit": limit, "cursor": cursor},
        )
        return json_object(response)

    def iter_transactions(
        self, member_id: str, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every transaction of a member, newest first, following `next_cursor` page by page."""
        cursor: str | None = None
        while True:
            page = self.list_transactions(member_id, limit=page_size, cursor=cursor)
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        """One transaction of the calling partner."""
        return json_object(self.request("GET", f"/v1/transactions/{path_segment(transaction_id)}"))

    def reverse(
        self,
        transaction_id: str,
        *,
        points: int | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Reverse a transaction, wholly or `points` of it; returns the reversal transaction."""
        body = without_none(points=points, reason=reason)
        return self._post(
            f"/v1/transactions/{path_segment(transaction_id)}/reverse", body, idempotency_key
        )

    def capture(
        self,
        hold_id: str,
        *,
        points: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Make a hold's points available, all or `points` of them (the rest is released)."""
        body = without_none(points=points)
        return self._post(
            f"/v1/transactions/{path_segment(hold_id)}/capture", body, idempotency_key
        )

    def void(
        self, hold_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Release every point of a hold."""
        body = without_none(reason=reason)
        return self._post(f"/v1/transactions/{path_segment(hold_id)}/void", body, idempotency_key)
