"""The ledger's invariants, checked over every stored entry and balance (and lot and hold).

- every transaction's postings sum to zero;
- every stored member balance's `available` equals the sum of its account's postings, and
  its `pending` the sum of its pending sub-account's postings;
- no stored balance is negative;
- given lots and holds (`LedgerStore.scan(lots_and_holds=True)`): a balance's `lotted` is the
  sum of its lots and at most its `available`, no lot is empty, and its `pending` is the sum
  of its open holds.

`fold_postings` is the one fold of postings into member balances; reconciliation uses it too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pointsnet.ledger.accounts import (
    is_member_account,
    is_pending_account,
    member_account_of_pending,
)
from pointsnet.ledger.models import HoldState, HoldStatus, Posting
from pointsnet.ledger.port import StoredBalance, StoredEntry, StoredLot


@dataclass
class FoldedPostings:
    """Postings summed per member account: its own, and its pending sub-account's."""

    available: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pending: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, postings: Iterable[Posting]) -> None:
        for posting in postings:
            if is_member_account(posting.account):
                self.available[posting.account] += posting.points
            elif is_pending_account(posting.account):
                self.pending[member_account_of_pending(posting.account)] += posting.points

    def of(self, account: str) -> tuple[int, int]:
        """(available, pending) of a member account, as its postings sum."""
        return self.available.get(account, 0), self.pending.get(account, 0)


def fold_postings(postings: Iterable[Posting]) -> FoldedPostings:
    folded = FoldedPostings()
    folded.add(postings)
    return folded


@dataclass
class LedgerCheck:
    unbalanced_transactions: list[str] = field(default_factory=list)
    # account (or pending:… sub-account) -> (stored, folded from postings)
    mismatched_accounts: dict[str, tuple[int, int]] = field(default_factory=dict)
    negative_accounts: list[str] = field(default_factory=list)
    # account -> (stored lotted, sum of its lots); or (lotted, available) when lotted exceeds it
    mismatched_lots: dict[str, tuple[int, int]] = field(default_factory=dict)
    # account -> (stored pending, sum of its open holds)
    mismatched_holds: dict[str, tuple[int, int]] = field(default_factory=dict)
    transactions: int = 0
    accounts: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_transactions
            or self.mismatched_accounts
            or self.negative_accounts
            or self.mismatched_lots
            or self.mismatched_holds
        )


def check_ledger(
    items: Iterable[StoredEntry | StoredBalance | StoredLot | HoldState],
    *,
    lots_and_holds: bool = False,
) -> LedgerCheck:
    """Fold entries into per-account sums and compare them with the stored balances.

    `lots_and_holds`: the items include every lot and hold (check them even if there are none).
    """
    result = LedgerCheck()
    folded = FoldedPostings()
    stored: dict[str, StoredBalance] = {}
    lots: dict[str, int] | None = defaultdict(int) if lots_and_holds else None
    holds: dict[str, int] | None = defaultdict(int) if lots_and_holds else None
    for item in items:
        if isinstance(item, StoredBalance):
            stored[item.account] = item
            if item.available < 0 or item.pending < 0:
                result.negative_accounts.append(item.account)
            continue
        if isinstance(item, StoredLot):
            lots = lots if lots is not None else defaultdict(int)
            lots[item.account] += item.remaining
            if item.remaining <= 0:
                result.mismatched_lots[f"{item.account} {item.lot_id}"] = (item.remaining, 0)
            continue
        if isinstance(item, HoldState):
            holds = holds if holds is not None else defaultdict(int)
            if item.status == HoldStatus.OPEN:
                holds[item.account] += item.points
            continue
        result.transactions += 1
        postings = item.transaction.postings
        if sum(posting.points for posting in postings) != 0:
            result.unbalanced_transactions.append(item.transaction.transaction_id)
        folded.add(postings)
    for account in sorted(set(folded.available) | set(stored)):
        available = stored[account].available if account in stored else 0
        if folded.available.get(account, 0) != available:
            result.mismatched_accounts[account] = (available, folded.available.get(account, 0))
    for account in sorted(set(folded.pending) | set(stored)):
        pending = stored[account].pending if account in stored else 0
        if folded.pending.get(account, 0) != pending:
            result.mismatched_accounts[f"pending:{account.removeprefix('member:')}"] = (
                pending,
                folded.pending.get(account, 0),
            )
    for account, balance in stored.items():
        if balance.lotted > balance.available:
            result.mismatched_lots[account] = (balance.lotted, balance.available)
        if lots is not None and lots.get(account, 0) != balance.lotted:
            result.mismatched_lots[account] = (balance.lotted, lots.get(account, 0))
        if holds is not None and holds.get(account, 0) != balance.pending:
            result.mismatched_holds[account] = (balance.pending, holds.get(account, 0))
    result.accounts = len(stored)
    return result
