"""The ledger table's partition keys that more than one store module writes or reads."""

from __future__ import annotations

# A member's referral lives in its own account partition (referral_store).
REFERRAL_SK = "REFERRAL"


def entry_pk(transaction_id: str) -> str:
    return f"TXN#{transaction_id}"


def account_pk(account: str) -> str:
    return f"ACCT#{account}"
