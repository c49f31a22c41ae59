"""Ledger account names.

A member account holds a stored balance. Program accounts are the other side
of earns and burns; their balances are never stored on the request path
(every earn of a program would write the same item), only folded from entries.
"""

from __future__ import annotations


def member_account(partner_id: str, member_id: str) -> str:
    return f"member:{partner_id}:{member_id}"


def issued_account(program: str) -> str:
    """Where earned points come from: its balance is minus the points ever issued."""
    return f"program:{program}:issued"


def redeemed_account(program: str) -> str:
    """Where burned points go."""
    return f"program:{program}:redeemed"


def exchange_account(program: str) -> str:
    """Where points leave one program and enter another in an exchange."""
    return f"program:{program}:exchange"


def is_member_account(account: str) -> bool:
    return account.startswith("member:")
