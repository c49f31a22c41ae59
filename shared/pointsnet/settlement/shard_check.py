"""One shard's day, checked: its journal, its accounts' entries, and its obligations.

A day's run checks each journal shard of the day on its own (one Lambda each, on AWS), and
reads only that day: the shard's journal objects, its obligations, and a few items per account
the day touched (the entry just before the day, the account's stored balance, and, when the
account moved on after the day, its latest entry). What a shard finds is its `ShardTally`;
the run's settle step adds the tallies up.

An entry names the transaction of its account's entry before it, and a balance its last
entry's, so those entries are read by key, a hundred a request (`EntriesBefore`, `_tips`).
A name proves a link exists, not that no other entry came after it, so wherever the day
shows a balance written without an entry (a lifecycle change, or a hand edit that could have
rolled a balance back), or a name is missing or leads elsewhere, a `ByAccount` query
decides, as it always did.

Why that proves what a scan of the whole table did: each entry records the balance it left and
its number in the account's history (the balance counts its entries), so an account's entries
form a chain. Every day's run checks its part of each chain (numbers without gap, each entry
starting where the one before it ended, the first where the last entry before the day ended),
that it ends at the stored balance, and that every balance the day's writes left (the journal
keeps those too) is the one its entries reach; together the days prove each balance is the
sum of all its entries.

A check keeps of each record only what it checks (`checked_part`: a `Link` of an entry's
chain, a balance's `Image`, or the `Evidence` of a change no posting makes), taken as each
journal object is read, so its memory grows by a few hundred bytes an entry of its shard.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pointsnet.journal.reading import ShardDay
from pointsnet.journal.records import JournalEvent, JournalRecord
from pointsnet.ledger.accounts import pending_of
from pointsnet.ledger.models import ObligationTerms
from pointsnet.ledger.port import StoredEntry
from pointsnet.settlement.checks import (
    CheckName,
    expects_obligation,
    posting_sum,
    same_terms,
)
from pointsnet.settlement.ports import EntryEnd, LedgerDayPort, StoredEnd
from pointsnet.settlement.run_state import ShardTally

# An obligation whose transaction the journal does not hold yet is not a finding while the
# transaction is this recent: the journal lags the ledger by its batching window.
JOURNAL_LAG = timedelta(minutes=15)
# A balance read a moment before or after a concurrent posting is read again before it is
# reported, so only a lasting mismatch fails the check.
END_REREADS = 2


@dataclass(frozen=True, slots=True)
class Link:
    """What the checks need of one entry: its place in its account's chain, the balance
    before and after it (available, pending), and its transaction's sum and money terms."""

    account: str
    number: int
    before: tuple[int, int]
    after: tuple[int, int]
    transaction_id: str
    postings_total: int
    obligation: ObligationTerms | None
    expects_obligation: bool
    previous: str | None  # the transaction of the entry before it, where it names one

    @classmethod
    def of(cls, entry: StoredEntry) -> Link:
        transaction = entry.transaction
        after = (entry.balance_after.available, entry.balance_after.pending)
        return cls(
            # One string per account however many entries it has.
            account=sys.intern(entry.account),
            number=entry.number,
            # The balance an entry started from: the one it left, less what it moved.
            before=(
                after[0] - transaction.member_delta(entry.account),
                after[1] - transaction.member_delta(pending_of(entry.account)),
            ),
            after=after,
            transaction_id=transaction.transaction_id,
            postings_total=posting_sum(transaction),
            obligation=transaction.obligation,
            expects_obligation=expects_obligation(transaction),
            previous=entry.previous,
        )


@dataclass(frozen=True, slots=True)
class Image:
    """A balance as a write left it: what its entries must add up to."""

    account: str
    available: int
    pending: int
    entries: int  # the number of the last entry it took


@dataclass(frozen=True, slots=True)
class Evidence:
    """A journal record no posting writes: an entry changed or deleted, a balance deleted."""

    id: str
    message: str


def checked_part(record: JournalRecord) -> Link | Image | Evidence:
    """What a shard's check keeps of a journal record, as the record is read."""
    if record.entry is not None and record.event == JournalEvent.INSERT:
        return Link.of(record.entry)
    if record.balance is not None:
        balance = record.balance
        return Image(
            sys.intern(balance.account), balance.available, balance.pending, balance.entries
        )
    if record.transaction_id is not None:
        what = "deleted from" if record.event == JournalEvent.REMOVE else "changed in"
        return Evidence(
            record.transaction_id, f"the entry was {what} the table after it was written"
        )
    return Evidence(record.key, "the balance was deleted from the table")


def check_shard(
    journal: ShardDay[Link | Image | Evidence],
    ledger: LedgerDayPort,
    currency: str,
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> ShardTally:
    tally = ShardTally(
        day=journal.day,
        shard=journal.shard,
        journal_objects=journal.objects,
        journal_bytes=journal.bytes_read,
    )
    found = tally.findings
    for key, message in journal.problems:
        found[CheckName.JOURNAL_COMPLETE].add(key, message)
    entries: list[Link] = []
    images: list[Image] = []
    for part in journal.records:
        if isinstance(part, Link):
            entries.append(part)
        elif isinstance(part, Image):
            images.append(part)
        elif isinstance(part, Evidence):
            found[CheckName.JOURNAL_COMPLETE].add(part.id, part.message)
    with_terms = _check_transactions(tally, entries)
    by_account: dict[str, list[Link]] = defaultdict(list)
    for entry in entries:
        by_account[entry.account].append(entry)
    for history in by_account.values():
        history.sort(key=lambda entry: entry.number)
    before_day = EntriesBefore(ledger, _start_of(tally.day), _named_before(by_account, images))
    _check_chains(tally, by_account, before_day)
    balances = _image_problems(tally, by_account, images, before_day)
    _check_ends(tally, by_account, balances, ledger, sleep)
    _check_obligations(tally, with_terms, ledger, currency, now)
    return tally


class EntriesBefore:
    """The entry just before the day of an account, as a check asks for it by number.

    The entries the day's first entries name are read by key up front; where the named one
    is not the entry asked for (none named, gone from the table, another account's, of the
    day itself, or another number), a `ByAccount` query for the account's last entry before
    the day decides, once per account, and from then on for that account."""

    def __init__(self, ledger: LedgerDayPort, start: datetime, named: dict[str, str]) -> None:
        self._ledger = ledger
        self._start = start
        self._named = {
            account: end
            for account, end in _named_ends(ledger, named).items()
            if end.created_at < start
        }
        self._queried: dict[str, EntryEnd | None] = {}

    def __call__(self, account: str, number: int) -> EntryEnd | None:
        if account not in self._queried:
            named = self._named.get(account)
            if named is not None and named.number == number:
                return named
            entry = self._ledger.entry_before(account, self._start)
            self._queried[account] = EntryEnd.of(entry) if entry is not None else None
        return self._queried[account]


def _named_ends(ledger: LedgerDayPort, named: dict[str, str]) -> dict[str, EntryEnd]:
    """The entries `named` names (account -> transaction), read by key; one the table does
    not hold, or that is another account's, is left out."""
    found = ledger.entry_ends(list(named.values())) if named else {}
    return {
        account: end
        for account, transaction_id in named.items()
        for end in [found.get(transaction_id)]
        if end is not None and end.account == account
    }


def _named_before(by_account: dict[str, list[Link]], images: Sequence[Image]) -> dict[str, str]:
    """The entry before the day each account's first entry of the day names, for accounts
    whose every balance written that day was written by one of the day's entries."""
    numbers = {account: {entry.number for entry in days} for account, days in by_account.items()}
    unposted = {
        image.account for image in images if image.entries not in numbers.get(image.account, ())
    }
    return {
        account: history[0].previous
        for account, history in by_account.items()
        if history[0].previous is not None and account not in unposted
    }


def _check_transactions(tally: ShardTally, entries: Sequence[Link]) -> list[Link]:
    found = tally.findings
    with_terms = []
    for entry in entries:
        tally.transactions += 1
        if entry.postings_total != 0:
            found[CheckName.TRANSACTIONS_BALANCE].add(
                entry.transaction_id, f"postings sum to {entry.postings_total}, not zero"
            )
        if entry.obligation is not None:
            tally.cross_partner_transactions += 1
            with_terms.append(entry)
        elif entry.expects_obligation:
            found[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS].add(
                entry.transaction_id,
                "a cross-partner transaction carries no obligation terms",
            )
    return with_terms


def _start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(tzinfo=UTC)


def _check_chains(
    tally: ShardTally,
    by_account: dict[str, list[Link]],
    before_day: EntriesBefore,
) -> None:
    """Each account's entries of the day: numbered on from the entry before the day, without a
    gap, each starting where the one before it ended."""
    chain = tally.findings[CheckName.ENTRIES_CHAIN]
    for account, history in sorted(by_account.items()):
        first = history[0]
        if first.number == 1:
            if first.before != (0, 0):
                chain.add(account, f"its first entry starts from {first.before}, not (0, 0)")
        else:
            previous = before_day(account, first.number - 1)
            if previous is None or previous.number != first.number - 1:
                held = previous.number if previous else "none"
                chain.add(account, f"the entry before entry {first.number} is missing ({held})")
            elif previous.after != first.before:
                chain.add(account, f"entry {first.number} does not start where the last ended")
        for earlier, later in itertools.pairwise(history):
            if later.number != earlier.number + 1:
                chain.add(account, f"entries jump from {earlier.number} to {later.number}")
            elif earlier.after != later.before:
                chain.add(account, f"entry {later.number} does not start where the last ended")


def _image_problems(
    tally: ShardTally,
    by_account: dict[str, list[Link]],
    images: Sequence[Image],
    before_day: EntriesBefore,
) -> dict[str, str]:
    """Every balance the day's writes left against the entry it counts as its last: a balance
    changed by hand (or a write that posted no entry) shows here, touched or not."""
    problems: dict[str, str] = {}
    for image in images:
        if image.available < 0 or image.pending < 0:
            tally.findings[CheckName.NO_NEGATIVE_BALANCES].add(
                image.account, f"available {image.available}, pending {image.pending}"
            )
        if image.account in problems:
            continue
        numbered = {entry.number: entry for entry in by_account.get(image.account, ())}
        entry: Link | EntryEnd | None = numbered.get(image.entries)
        if entry is None and image.entries > 0:
            before = before_day(image.account, image.entries)
            entry = before if before is not None and before.number == image.entries else None
        if entry is None and (image.available, image.pending) != (0, 0):
            problems[image.account] = (
                f"stored available {image.available}, pending {image.pending}; "
                f"no entry {image.entries} is behind it"
            )
        elif entry is not None and (image.available, image.pending) != entry.after:
            problems[image.account] = _mismatch(image.available, image.pending, entry)
    return problems


def _mismatch(available: int, pending: int, entry: Link | EntryEnd) -> str:
    return (
        f"stored available {available}, pending {pending}; entries sum to "
        f"available {entry.after[0]}, pending {entry.after[1]}"
    )


def _check_ends(
    tally: ShardTally,
    by_account: dict[str, list[Link]],
    problems: dict[str, str],
    ledger: LedgerDayPort,
    sleep: Callable[[float], None],
) -> None:
    """Each touched account's stored balance against the end of its chain (the day's last
    entry, or the latest one when it moved on since)."""
    lasts = {account: history[-1] for account, history in by_account.items()}
    ends = ledger.ends(sorted(lasts))
    stored = _end_problems(lasts, ends, ledger)
    for _ in range(END_REREADS):
        if not stored:
            break
        sleep(0.2)
        again = {account: lasts[account] for account in stored}
        stored = _end_problems(again, ledger.ends(sorted(again)), ledger)
    tally.accounts_checked += len(lasts)
    for account, message in sorted((stored | problems).items()):
        tally.findings[CheckName.BALANCES_MATCH_ENTRIES].add(account, message)
    for account, end in sorted(ends.items()):
        if (end.available < 0 or end.pending < 0) and not _negative_found(tally, account):
            tally.findings[CheckName.NO_NEGATIVE_BALANCES].add(
                account, f"available {end.available}, pending {end.pending}"
            )


def _negative_found(tally: ShardTally, account: str) -> bool:
    found = tally.findings[CheckName.NO_NEGATIVE_BALANCES]
    return any(detail.id == account for detail in found.details)


def _end_problems(
    lasts: dict[str, Link], ends: dict[str, StoredEnd], ledger: LedgerDayPort
) -> dict[str, str]:
    problems = {}
    tips = _tips(ledger, lasts, ends)
    for account, last in lasts.items():
        end = ends.get(account)
        if end is None:
            problems[account] = (
                f"no stored balance; entries sum to available {last.after[0]}, "
                f"pending {last.after[1]}"
            )
            continue
        tip: Link | EntryEnd | None = (
            last if end.entries == last.number else tips.get(account) or _latest(ledger, account)
        )
        if tip is None or tip.number != end.entries:
            problems[account] = (
                f"the balance counts {end.entries} entries; its latest entry is "
                f"{tip.number if tip else 'none'}"
            )
        elif (end.available, end.pending) != tip.after:
            problems[account] = _mismatch(end.available, end.pending, tip)
    return problems


def _tips(
    ledger: LedgerDayPort, lasts: dict[str, Link], ends: dict[str, StoredEnd]
) -> dict[str, EntryEnd]:
    """The latest entry of each account that moved on after the day, read by the key its
    balance names; an account whose balance names none, or an entry that is not the one it
    counts as its last, is left out (for `ByAccount` to answer)."""
    # Only a balance ahead of the day: one behind it is the query's to judge.
    moved = {
        account: end.last_entry
        for account, end in ends.items()
        if account in lasts and end.entries > lasts[account].number and end.last_entry
    }
    return {
        account: tip
        for account, tip in _named_ends(ledger, moved).items()
        if tip.number == ends[account].entries
    }


def _latest(ledger: LedgerDayPort, account: str) -> EntryEnd | None:
    entry = ledger.latest_entry(account)
    return EntryEnd.of(entry) if entry is not None else None


def _check_obligations(
    tally: ShardTally,
    with_terms: Sequence[Link],
    ledger: LedgerDayPort,
    currency: str,
    now: datetime,
) -> None:
    """The shard's obligations and its cross-partner transactions, one to one; summed in."""
    found = tally.findings[CheckName.OBLIGATIONS_MATCH_TRANSACTIONS]
    obligations = ledger.shard_obligations(tally.day, tally.shard)
    recorded = {item.transaction_id: item for item in obligations}
    for entry in with_terms:
        assert entry.obligation is not None
        obligation = recorded.get(entry.transaction_id)
        if obligation is None:
            found.add(entry.transaction_id, "no obligation was recorded for this transaction")
        elif not same_terms(obligation.terms, entry.obligation):
            found.add(entry.transaction_id, "the obligation's terms differ from the transaction's")
    journaled = {entry.transaction_id for entry in with_terms}
    for transaction_id, obligation in sorted(recorded.items()):
        if transaction_id not in journaled:
            stored = ledger.entry(transaction_id)
            if stored is None:
                found.add(transaction_id, "an obligation without its transaction")
            elif stored.transaction.obligation is None:
                found.add(transaction_id, "the obligation's transaction carries no terms")
            elif now - stored.transaction.created_at < JOURNAL_LAG:
                tally.unjournaled_obligations += 1
            else:
                found.add(transaction_id, "the obligation's transaction is not in the journal")
        tally.obligations += 1
        if obligation.terms.currency != currency:
            tally.findings[CheckName.SETTLEMENT_CURRENCY].add(
                transaction_id,
                f"in {obligation.terms.currency}, not {currency}: left out of the lines",
            )
            continue
        tally.totals.add(obligation.terms)
        tally.summed.append(obligation)
