"""Ledger account names.

A member account holds a stored balance. Its pending sub-account holds the points of its open
holds, stored as the balance's `pending`. Program accounts are the other side of earns,
burns and expiries; their balances are never stored on the request path (every earn of a
program would write the same item), only folded from entries.
"""

from __future__ import annotations


def member_account(partner_id: str, member_id: str) -> str:
    return f"member:{partner_id}:{member_id}"


def pending_account(partner_id: str, member_id: str) -> str:
    """Points held for a member until a capture or void: counted, not spendable."""
    return f"pending:{partner_id}:{member_id}"


def issued_account(program: str) -> str:
    """Where earned points come from: its balance is minus the points ever issued."""
    return f"program:{program}:issued"


def redeemed_account(program: str) -> str:
    """Where burned points go."""
    return f"program:{program}:redeemed"


def exchange_account(program: str) -> str:
    """Where points leave one program and enter another in an exchange."""
    return f"program:{program}:exchange"


def expired_account(program: str) -> str:
    """Where expired points go."""
    return f"program:{program}:expired"


def opening_account(program: str) -> str:
    """Where imported opening balances come from: points a partner issued before it joined."""
    return f"program:{program}:opening"


def is_member_account(account: str) -> bool:
    return account.startswith("member:")


def is_pending_account(account: str) -> bool:
    return account.startswith("pending:")


def member_of(account: str) -> tuple[str, str]:
    """(partner_id, member_id) of a member or pending account; member ids may contain ':'."""
    _, partner_id, member_id = account.split(":", 2)
    return partner_id, member_id


def pending_of(account: str) -> str:
    return pending_account(*member_of(account))


def member_account_of_pending(account: str) -> str:
    return member_account(*member_of(account))
