"""What each page a run reads adds to its checkpoint: findings for the checks, the accounts it
touched, and the obligations summed into lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pointsnet.settlement.checks import (
    CheckName,
    expects_obligation,
    member_accounts,
    posting_sum,
    same_terms,
)
from pointsnet.settlement.ports import NegativeBalance, PeriodEntry

if TYPE_CHECKING:
    from pointsnet.ledger.models import Obligation
    from pointsnet.settlement.ports import LedgerPeriodPort, SettlementPort
    from pointsnet.settlement.run_state import RunState

# Scratch items of a run (the accounts it touched) outlive it by this long, then expire.
SCRATCH_TTL = timedelta(days=2)
# A balance read a moment before or after a concurrent posting is read again before it is
# reported, so only a lasting mismatch fails the check.
ACCOUNT_REREADS = 2


def read_entries(
    state: RunState,
    items: Sequence[PeriodEntry | NegativeBalance],
    reader: LedgerPeriodPort,
    store: SettlementPort,
    clock: Callable[[], datetime],
) -> None:
    """Check a page of the period's entries; write the member accounts they touch to `store`."""
    findings = state.findings
    touched: set[str] = set()
    with_terms = []
    for item in items:
        if isinstance(item, NegativeBalance):
            findings[CheckName.NO_NEGATIVE_BALANCES].add(
                item.account, f"available {item.available}, pending {item.pending}"
            )
            continue
        transaction = item.transaction
        state.tallies.transactions += 1
        total = posting_sum(transaction)
        if total != 0:
            findings[CheckName.TRANSACTIONS_BALANCE].add(
                transaction.transaction_id, f"postings sum to {total}, not zero"
            )
        touched |= member_accounts(transaction) | {item.account}
        if transaction.obligation is not None:
            state.tallies.cross_partner_transactions += 1
            with_terms.append(transaction)
        elif expects_obligation(transaction):
            findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                transaction.transaction_id,
                "a cross-partner transaction carries no obligation terms",
            )
    if touched:
        expires = int((clock() + SCRATCH_TTL).timestamp())
        store.add_touched_accounts(state.run_id, sorted(touched), expires)
    recorded = reader.obligations_of(with_terms) if with_terms else {}
    for transaction in with_terms:
        obligation = recorded.get(transaction.transaction_id)
        assert transaction.obligation is not None
        if obligation is None:
            findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                transaction.transaction_id, "no obligation was recorded for this transaction"
            )
        elif not same_terms(obligation.terms, transaction.obligation):
            findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                transaction.transaction_id,
                "the obligation's terms differ from the transaction's",
            )


def read_obligations(
    state: RunState, obligations: Sequence[Obligation], reader: LedgerPeriodPort
) -> None:
    """Check a page of the period's obligations against their transactions; sum them in."""
    findings = state.findings
    transactions = reader.transactions([item.transaction_id for item in obligations])
    for obligation in obligations:
        state.tallies.obligations += 1
        transaction = transactions.get(obligation.transaction_id)
        if transaction is None:
            findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                obligation.transaction_id, "an obligation without its transaction"
            )
        elif not state.period.contains(transaction.created_at):
            findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                obligation.transaction_id, "the obligation's transaction is of another day"
            )
        elif transaction.obligation is None:
            # Those with terms were compared when the period's entries were read.
            findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                obligation.transaction_id, "the obligation's transaction carries no terms"
            )
            findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                obligation.transaction_id,
                "the obligation's terms differ from the transaction's",
            )
        if obligation.terms.currency != state.currency:
            findings[CheckName.SETTLEMENT_CURRENCY].add(
                obligation.transaction_id,
                f"in {obligation.terms.currency}, not {state.currency}: left out of the lines",
            )
            continue
        state.totals.add(obligation.terms)


def check_accounts(
    state: RunState,
    accounts: Sequence[str],
    reader: LedgerPeriodPort,
    sleep: Callable[[float], None],
) -> None:
    """Compare each touched account's stored balance with the sum of all its entries."""
    states = reader.account_states(accounts)
    for _ in range(ACCOUNT_REREADS):
        mismatched = [item.account for item in states if item.stored != item.folded]
        if not mismatched:
            break
        sleep(0.2)
        reread = {item.account: item for item in reader.account_states(mismatched)}
        states = [reread.get(item.account, item) for item in states]
    for item in states:
        state.tallies.accounts_checked += 1
        folded_available, folded_pending = item.folded
        if item.stored is None:
            if item.folded != (0, 0):
                state.findings[CheckName.BALANCES_MATCH_ENTRIES].add(
                    item.account,
                    f"no stored balance; entries sum to available {folded_available}, "
                    f"pending {folded_pending}",
                )
            continue
        available, pending = item.stored
        # A negative balance was already found by the scan, which sees every balance.
        if item.stored != item.folded:
            state.findings[CheckName.BALANCES_MATCH_ENTRIES].add(
                item.account,
                f"stored available {available}, pending {pending}; entries sum to "
                f"available {folded_available}, pending {folded_pending}",
            )
