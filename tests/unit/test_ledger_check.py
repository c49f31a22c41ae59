"""The ledger check finds unbalanced transactions and balances that disagree with entries."""

from __future__ import annotations

from datetime import UTC, datetime

from pointsnet.ledger.check import check_ledger
from pointsnet.ledger.models import AS_STORED, Balance, Transaction
from pointsnet.ledger.port import StoredBalance, StoredEntry

ACCOUNT = "member:starlodge:guest-1"


def entry(transaction_id: str, postings: list[tuple[str, int]]) -> StoredEntry:
    transaction = Transaction.model_validate(
        {
            "transaction_id": transaction_id,
            "type": "earn",
            "program": "STAR",
            "points": 10,
            "partner_id": "starlodge",
            "member_id": "guest-1",
            "initiated_by": "starlodge",
            "reference": "r",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            "postings": [{"account": account, "points": points} for account, points in postings],
        },
        context={AS_STORED: True},
    )
    return StoredEntry.model_validate(
        {
            "transaction": transaction,
            "balance_after": Balance(program="STAR", available=10),
            "fingerprint": "f",
            "account": ACCOUNT,
        },
        context={AS_STORED: True},
    )


def balance(available: int) -> StoredBalance:
    return StoredBalance(account=ACCOUNT, program="STAR", available=available, version=1)


def test_a_consistent_ledger_passes() -> None:
    # Given an earn of 10 points posted from the program's issued account to a member,
    # whose balance says 10
    # When the ledger is checked
    result = check_ledger([entry("t1", [("program:STAR:issued", -10), (ACCOUNT, 10)]), balance(10)])
    # Then it passes, counting one transaction and one account
    assert result.ok
    assert (result.transactions, result.accounts) == (1, 1)


def test_an_unbalanced_transaction_is_named() -> None:
    # Given a transaction whose postings sum to 1, not zero
    # When the ledger is checked
    result = check_ledger([entry("t1", [("program:STAR:issued", -9), (ACCOUNT, 10)]), balance(10)])
    # Then it fails, naming that transaction
    assert not result.ok
    assert result.unbalanced_transactions == ["t1"]


def test_a_balance_that_disagrees_with_its_entries_is_named() -> None:
    # Given a member's balance of 11 over entries that sum to 10
    # When the ledger is checked
    result = check_ledger([entry("t1", [("program:STAR:issued", -10), (ACCOUNT, 10)]), balance(11)])
    # Then the account is named with its stored and its summed balance
    assert result.mismatched_accounts == {ACCOUNT: (11, 10)}


def test_a_negative_balance_is_named() -> None:
    # Given a member's balance of -1 points
    # When the ledger is checked
    result = check_ledger([balance(-1)])
    # Then the account is named as negative
    assert result.negative_accounts == [ACCOUNT]


def test_a_transaction_whose_postings_do_not_balance_cannot_be_made() -> None:
    # Given an earn of 1 point posted to the member with no opposite posting
    # When it is made into a Transaction
    try:
        Transaction.model_validate(
            {
                "transaction_id": "t",
                "type": "earn",
                "program": "STAR",
                "points": 1,
                "partner_id": "p",
                "member_id": "m",
                "initiated_by": "p",
                "reference": "r",
                "created_at": datetime(2026, 1, 1, tzinfo=UTC),
                "postings": [{"account": ACCOUNT, "points": 1}],
            }
        )
    except ValueError as error:
        # Then it is refused because postings must sum to zero
        assert "sum to zero" in str(error)
    else:
        raise AssertionError("an unbalanced transaction was accepted")
