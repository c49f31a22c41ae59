"""The ledger's invariants, checked over every stored entry and balance.

- every transaction's postings sum to zero;
- every stored member balance equals the sum of its account's postings;
- no stored balance is negative.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pointsnet.ledger.accounts import is_member_account
from pointsnet.store.ledger_store import StoredBalance, StoredEntry


@dataclass
class LedgerCheck:
    unbalanced_transactions: list[str] = field(default_factory=list)
    mismatched_accounts: dict[str, tuple[int, int]] = field(default_factory=dict)
    negative_accounts: list[str] = field(default_factory=list)
    transactions: int = 0
    accounts: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_transactions or self.mismatched_accounts or self.negative_accounts
        )


def check_ledger(items: Iterable[StoredEntry | StoredBalance]) -> LedgerCheck:
    """Fold entries into per-account sums and compare them with the stored balances."""
    result = LedgerCheck()
    folded: dict[str, int] = defaultdict(int)
    stored: dict[str, int] = {}
    for item in items:
        if isinstance(item, StoredBalance):
            stored[item.account] = item.available + item.pending
            if item.available < 0 or item.pending < 0:
                result.negative_accounts.append(item.account)
            continue
        result.transactions += 1
        postings = item.transaction.postings
        if sum(posting.points for posting in postings) != 0:
            result.unbalanced_transactions.append(item.transaction.transaction_id)
        for posting in postings:
            if is_member_account(posting.account):
                folded[posting.account] += posting.points
    for account in sorted(set(folded) | set(stored)):
        if folded.get(account, 0) != stored.get(account, 0):
            result.mismatched_accounts[account] = (stored.get(account, 0), folded.get(account, 0))
    result.accounts = len(stored)
    return result
