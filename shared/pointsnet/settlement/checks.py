"""The checks a reconciliation run records, and the findings that make one fail.

A run gathers findings as it reads: only the first `MAX_DETAILS` of each check
are kept (with the total count), so a badly broken ledger still gives a
settlement of bounded size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from pointsnet.ledger.accounts import (
    is_member_account,
    is_pending_account,
    member_account_of_pending,
)
from pointsnet.ledger.models import ObligationTerms, Transaction, TransactionType
from pointsnet.model import Model
from pointsnet.settlement.models import Check, CheckFinding, NetPosition

MAX_DETAILS = 50


class CheckName(StrEnum):
    TRANSACTIONS_BALANCE = "transactions_balance"
    BALANCES_MATCH_ENTRIES = "balances_match_entries"
    NO_NEGATIVE_BALANCES = "no_negative_balances"
    OBLIGATIONS_MATCH_TRANSACTIONS = "obligations_match_transactions"
    SETTLEMENT_CURRENCY = "settlement_currency"
    NET_POSITIONS_SUM_TO_ZERO = "net_positions_sum_to_zero"
    ENTRIES_CHAIN = "entries_chain"
    JOURNAL_COMPLETE = "journal_complete"


DESCRIPTIONS: dict[CheckName, str] = {
    CheckName.TRANSACTIONS_BALANCE: "Every transaction of the period has postings summing to zero",
    CheckName.BALANCES_MATCH_ENTRIES: (
        "Every member account touched in the period has a stored balance equal to the sum "
        "of all its entries"
    ),
    CheckName.NO_NEGATIVE_BALANCES: "No stored member balance is negative",
    CheckName.OBLIGATIONS_MATCH_TRANSACTIONS: (
        "Obligations and cross-partner transactions of the period match one to one, "
        "with the same terms"
    ),
    CheckName.SETTLEMENT_CURRENCY: "Every obligation is in the settlement's currency",
    CheckName.NET_POSITIONS_SUM_TO_ZERO: "The partners' net positions sum to exactly zero",
    CheckName.ENTRIES_CHAIN: (
        "Each account's entries of the period number on without a gap from the entry before "
        "the period, each starting from the balance the one before it left"
    ),
    CheckName.JOURNAL_COMPLETE: (
        "The period's journal is whole (no object missing or altered, each chain unbroken) "
        "and no entry was changed or deleted in the table after it was written"
    ),
}


class Findings(Model):
    offending: int = 0
    details: list[CheckFinding] = Field(default_factory=list)

    def add(self, offending_id: str, message: str) -> None:
        """Record one offending id; a run reads each item once, so each id comes once."""
        self.offending += 1
        if len(self.details) < MAX_DETAILS:
            self.details.append(CheckFinding(id=offending_id, message=message))

    def merge(self, other: Findings) -> None:
        """Add another part of the run's findings (a shard's), keeping the first details."""
        self.offending += other.offending
        self.details += other.details[: MAX_DETAILS - len(self.details)]


def new_findings() -> dict[CheckName, Findings]:
    return {name: Findings() for name in CheckName}


def posting_sum(transaction: Transaction) -> int:
    return sum(posting.points for posting in transaction.postings)


def member_accounts(transaction: Transaction) -> set[str]:
    """The member accounts a transaction moves, a hold's pending sub-account as its member's."""
    accounts = set()
    for posting in transaction.postings:
        if is_member_account(posting.account):
            accounts.add(posting.account)
        elif is_pending_account(posting.account):
            accounts.add(member_account_of_pending(posting.account))
    return accounts


def expects_obligation(transaction: Transaction) -> bool:
    """Whether the transaction moves points across partners and so must carry money terms.

    A partner earning (or capturing a hold) for another partner's member, the reversal of
    that, and the credit leg of an exchange (the leg whose member receives points) create
    obligations; a hold owes nothing until it is captured.
    """
    if transaction.type in (
        TransactionType.EARN,
        TransactionType.CAPTURE,
        TransactionType.REVERSAL,
    ):
        return transaction.initiated_by != transaction.partner_id
    if transaction.type == TransactionType.EXCHANGE:
        return any(
            posting.points > 0 and is_member_account(posting.account)
            for posting in transaction.postings
        )
    return False


def same_terms(first: ObligationTerms, second: ObligationTerms) -> bool:
    return first.model_dump() == second.model_dump()


def build_checks(
    findings: Mapping[CheckName, Findings], positions: Iterable[NetPosition]
) -> list[Check]:
    """Every check in a stable order; the net-position check is computed here, from the figures."""
    total = sum((position.amount for position in positions), Decimal(0))
    net = Findings()
    if total != 0:
        net.add("net_positions", f"net positions sum to {total}, not zero")
    gathered = {**findings, CheckName.NET_POSITIONS_SUM_TO_ZERO: net}
    return [
        Check(
            name=name.value,
            ok=gathered[name].offending == 0,
            description=DESCRIPTIONS[name],
            offending=gathered[name].offending,
            details=list(gathered[name].details),
        )
        for name in CheckName
    ]
