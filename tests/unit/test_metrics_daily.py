"""Folding a day of journal records into each program's figures: by transaction type, each
entry once, only the day's entry INSERTs."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pointsnet.journal.records import BalanceImage, JournalEvent, JournalRecord
from pointsnet.ledger.accounts import (
    exchange_account,
    expired_account,
    issued_account,
    member_account,
    pending_account,
    redeemed_account,
)
from pointsnet.ledger.models import (
    Balance,
    Posting,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from pointsnet.ledger.port import StoredEntry
from pointsnet.metrics.daily import DayFold, fold_day
from pointsnet.metrics.members import ExactMembers, member_hash

DAY = date(2025, 1, 10)
NOON = datetime(2025, 1, 10, 12, tzinfo=UTC)
_sequence = itertools.count(1000)
_ids = itertools.count(1)


def record(
    kind: TransactionType,
    postings: dict[str, int],
    *,
    member: str = "guest-1",
    partner: str = "starlodge",
    program: str = "STAR",
    number: int = 2,
    amount: str | None = None,
    at: datetime = NOON,
    transaction_id: str | None = None,
    event: JournalEvent = JournalEvent.INSERT,
) -> JournalRecord:
    """A journal record of one entry on `partner`'s member, its postings by account."""
    transaction = Transaction(
        transaction_id=transaction_id or f"txn_{next(_ids)}",
        type=kind,
        status=TransactionStatus.PENDING if kind == TransactionType.HOLD else "posted",
        program=program,
        points=max(abs(points) for points in postings.values()),
        partner_id=partner,
        member_id=member,
        initiated_by=partner,
        reference="ref",
        amount=Decimal(amount) if amount is not None else None,
        created_at=at,
        postings=tuple(Posting(account=name, points=points) for name, points in postings.items()),
    )
    entry = StoredEntry(
        transaction=transaction,
        balance_after=Balance(program=program, available=0),
        fingerprint="fingerprint",
        account=member_account(partner, member),
        number=number,
    )
    return JournalRecord(
        sequence=str(next(_sequence)),
        event=event,
        recorded_at=at,
        transaction_id=transaction.transaction_id,
        entry=entry,
    )


def earn(member: str, points: int, amount: str | None = None, **extra: object) -> JournalRecord:
    account = member_account("starlodge", member)
    return record(
        TransactionType.EARN,
        {issued_account("STAR"): -points, account: points},
        member=member,
        amount=amount,
        **extra,  # type: ignore[arg-type]
    )


def test_each_type_moves_its_figure_and_every_entry_the_net_change() -> None:
    # Given a day of STAR entries of every kind for guest-1
    me, held = member_account("starlodge", "guest-1"), pending_account("starlodge", "guest-1")
    issued, redeemed = issued_account("STAR"), redeemed_account("STAR")
    records = [
        earn("guest-1", 100),  # issued +100
        record(TransactionType.HOLD, {issued: -30, held: 30}),  # pending +30, not issued
        record(TransactionType.CAPTURE, {held: -30, me: 20, issued: 10}),  # issued +20
        record(TransactionType.HOLD, {issued: -5, held: 5}),
        record(TransactionType.VOID, {held: -5, issued: 5}),  # nothing issued
        record(TransactionType.REVERSAL, {issued: 15, me: -15}),  # an earn's: issued -15
        record(TransactionType.BURN, {me: -40, redeemed: 40}),  # redeemed +40
        record(TransactionType.REVERSAL, {me: 10, redeemed: -10}),  # a burn's: redeemed -10
        record(TransactionType.EXPIRY, {me: -25, expired_account("STAR"): 25}),  # expired +25
        record(TransactionType.EXCHANGE, {me: -8, exchange_account("STAR"): 8}),  # out 8
        record(TransactionType.EXCHANGE, {exchange_account("STAR"): -12, me: 12}),  # in 12
    ]
    # When the day is folded
    figures = fold_day(DAY, records)["STAR"]
    # Then issued = 100 + 20 - 15 = 105, redeemed = 40 - 10 = 30, expired 25, exchanged 12 in
    # and 8 out, and the net change 100 + 30 - 10 + 0 + 0 - 15 - 40 + 10 - 25 - 8 + 12 = 54
    assert (figures.points_issued, figures.points_redeemed, figures.points_expired) == (105, 30, 25)
    assert (figures.points_exchanged_in, figures.points_exchanged_out) == (12, 8)
    assert figures.net_change == figures.outstanding_end == 54
    assert (figures.entries, figures.active.count(), figures.outstanding_since) == (11, 1, DAY)


def test_purchases_are_the_earns_with_an_amount_and_members_are_counted_once() -> None:
    # Given three members: guest-1 buys twice, guest-2 once, guest-3 earns points only
    records = [
        earn("guest-1", 42, "42.50", number=1),
        earn("guest-1", 10, "10.25"),
        earn("guest-2", 7, "7.00"),
        earn("guest-3", 100, number=1),
    ]
    # When the day is folded
    figures = fold_day(DAY, records)["STAR"]
    # Then 3 purchases by 2 purchasing members spent 59.75; 3 active; 2 new (entries number 1)
    assert (figures.purchases, figures.spend) == (3, Decimal("59.75"))
    assert figures.purchasers == ExactMembers(
        frozenset(member_hash(member_account("starlodge", name)) for name in ("guest-1", "guest-2"))
    )
    assert (figures.active.count(), figures.new_members) == (3, 2)


def test_an_entry_counts_once_and_only_the_days_entry_inserts_count() -> None:
    # Given an earn journaled twice (a halved retry: two stream records of one entry)
    first = earn("guest-1", 100, transaction_id="txn_twice")
    again = first.model_copy(update={"sequence": "99999999"})
    # And a MODIFY and a REMOVE of entries, a balance record, and an entry of the next day
    modified = earn("guest-1", 500, event=JournalEvent.MODIFY)
    removed = JournalRecord(
        sequence="5", event=JournalEvent.REMOVE, recorded_at=NOON, transaction_id="txn_gone"
    )
    balance = JournalRecord(
        sequence="6",
        event=JournalEvent.INSERT,
        recorded_at=NOON,
        account=member_account("starlodge", "guest-1"),
        balance=BalanceImage(
            account=member_account("starlodge", "guest-1"), available=100, pending=0, entries=1
        ),
    )
    tomorrow = earn("guest-1", 7, at=NOON + timedelta(days=1))
    # When the day is folded
    figures = fold_day(DAY, [first, again, modified, removed, balance, tomorrow])["STAR"]
    # Then only the one earn counts, once
    assert (figures.entries, figures.points_issued, figures.net_change) == (1, 100, 100)


def test_programs_are_folded_apart_and_shards_merge() -> None:
    # Given a STAR earn in one shard's records and a RIDE earn in another's
    star = earn("guest-1", 100)
    rider = member_account("rideco", "rider-1")
    ride = record(
        TransactionType.EARN,
        {issued_account("RIDE"): -5, rider: 5},
        member="rider-1",
        partner="rideco",
        program="RIDE",
        amount="3.10",
    )
    # When each shard is folded and the folds merged
    figures = DayFold(DAY).add([star]).merge(DayFold(DAY).add([ride])).figures()
    # Then each program has its own figures
    assert sorted(figures) == ["RIDE", "STAR"]
    assert (figures["STAR"].points_issued, figures["STAR"].purchases) == (100, 0)
    assert (figures["RIDE"].points_issued, figures["RIDE"].spend) == (5, Decimal("3.10"))


def test_outstanding_carries_from_the_day_before_or_starts_at_zero() -> None:
    # Given a day whose entries change members' points by +70
    figures = fold_day(DAY, [earn("guest-1", 70)])["STAR"]
    # And the day before, ending with 1,000 outstanding counted since 2025-01-01
    before = figures.model_copy(
        update={
            "day": DAY - timedelta(days=1),
            "outstanding_end": 1000,
            "outstanding_since": date(2025, 1, 1),
        }
    )
    # When the day is carried from it, and from nothing
    carried, alone = figures.carried_from(before), figures.carried_from(None)
    # Then it ends at 1,070 counted since 2025-01-01, or at 70 counted from the day itself
    assert (carried.outstanding_end, carried.outstanding_since) == (1070, date(2025, 1, 1))
    assert (alone.outstanding_end, alone.outstanding_since) == (70, DAY)
