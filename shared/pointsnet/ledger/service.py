"""Ledger operations: earn, burn, reverse, and the member's view of them.

Every posting goes through one conditional TransactWriteItems: the immutable
entry (whose id is derived from the Idempotency-Key) and the member balance,
moved from a known version. Knowing the version means the balance after the
write is known without reading it back, and stored in the entry, so a replay
returns the first response exactly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from pointsnet.auth.caller import Caller
from pointsnet.errors import (
    Conflict,
    IdempotencyKeyReused,
    InsufficientPoints,
    NotFound,
    NotLinked,
    ValidationFailed,
)
from pointsnet.idempotency import transaction_id_for
from pointsnet.ledger.accounts import issued_account, member_account, redeemed_account
from pointsnet.ledger.commands import BurnCommand, EarnCommand, IdempotentRequest, ReverseCommand
from pointsnet.ledger.models import (
    Balance,
    Posting,
    Transaction,
    TransactionType,
    utc_now,
)
from pointsnet.store.ledger_store import (
    BalanceMoved,
    BalanceUpdate,
    EntryExists,
    LedgerStore,
    ReversalMoved,
    ReversalUpdate,
    StoredBalance,
    StoredEntry,
)

# Contention on one member is rare; this bounds the work when it is not.
MAX_ATTEMPTS = 60
REVERSIBLE_TYPES = frozenset({TransactionType.EARN, TransactionType.BURN})


@dataclass(frozen=True)
class PostingResult:
    transaction: Transaction
    balance: Balance
    replayed: bool


@dataclass(frozen=True)
class MemberView:
    member_id: str
    program: str
    balance: Balance


@dataclass(frozen=True)
class TransactionView:
    transaction: Transaction
    points_reversed: int | None


@dataclass(frozen=True)
class HistoryPage:
    items: list[Transaction]
    next_cursor: str | None


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sleep = sleep

    # writes

    def earn(
        self, caller: Caller, member_id: str, command: EarnCommand, request: IdempotentRequest
    ) -> PostingResult:
        program = _own_program(caller)
        if command.program not in (None, program):
            raise NotLinked(f"member {member_id} has no active link to program {command.program}")
        if command.pending:
            raise ValidationFailed(
                "pending earns are not available on this network yet",
                details=[{"field": "pending", "message": "must be false"}],
            )
        account = member_account(caller.partner_id, member_id)

        def build(transaction_id: str, now: datetime) -> Transaction:
            return Transaction(
                transaction_id=transaction_id,
                type=TransactionType.EARN,
                program=program,
                points=command.points,
                partner_id=caller.partner_id,
                member_id=member_id,
                initiated_by=caller.partner_id,
                reference=command.reference,
                description=command.description,
                created_at=now,
                postings=(
                    Posting(account=issued_account(program), points=-command.points),
                    Posting(account=account, points=command.points),
                ),
            )

        return self._post(caller, account, program, member_id, command.points, build, request)

    def burn(
        self, caller: Caller, member_id: str, command: BurnCommand, request: IdempotentRequest
    ) -> PostingResult:
        program = _own_program(caller)
        account = member_account(caller.partner_id, member_id)

        def build(transaction_id: str, now: datetime) -> Transaction:
            return Transaction(
                transaction_id=transaction_id,
                type=TransactionType.BURN,
                program=program,
                points=command.points,
                partner_id=caller.partner_id,
                member_id=member_id,
                initiated_by=caller.partner_id,
                reference=command.reference,
                description=command.description,
                created_at=now,
                postings=(
                    Posting(account=account, points=-command.points),
                    Posting(account=redeemed_account(program), points=command.points),
                ),
            )

        return self._post(caller, account, program, member_id, -command.points, build, request)

    def reverse(
        self,
        caller: Caller,
        transaction_id: str,
        command: ReverseCommand,
        request: IdempotentRequest,
    ) -> PostingResult:
        original = self._visible_entry(caller, transaction_id).transaction
        if original.initiated_by != caller.partner_id:
            raise Conflict("only the partner that made a transaction may reverse it")
        if original.type not in REVERSIBLE_TYPES:
            raise Conflict(f"a {original.type} transaction cannot be reversed")
        reversal_id = transaction_id_for(caller.partner_id, request.key)
        account = member_account(original.partner_id, original.member_id)
        state = self.store.get_reversal_state(transaction_id)
        remaining = state.remaining if state else original.points
        version = state.version if state else 0
        balance = self.store.get_balance(account)

        for attempt in range(MAX_ATTEMPTS):
            points = command.points if command.points is not None else remaining
            if remaining == 0 or points > remaining:
                if replay := self._posted(reversal_id, request):
                    return replay
                raise Conflict(
                    f"transaction {transaction_id} has {remaining} points left to reverse"
                )
            now = self.clock()
            reversal = Transaction(
                transaction_id=reversal_id,
                type=TransactionType.REVERSAL,
                program=original.program,
                points=points,
                partner_id=original.partner_id,
                member_id=original.member_id,
                initiated_by=caller.partner_id,
                reference=original.reference,
                reverses=original.transaction_id,
                reason=command.reason,
                created_at=now,
                postings=_reversed_postings(original, points),
            )
            try:
                return self._commit(
                    reversal,
                    account,
                    balance,
                    request,
                    ReversalUpdate(transaction_id, version, remaining - points),
                )
            except BalanceMoved as moved:
                balance = moved.current or self.store.get_balance(account)
            except ReversalMoved:
                state = self.store.get_reversal_state(transaction_id)
                remaining = state.remaining if state else original.points
                version = state.version if state else 0
            self._back_off(attempt)
        raise Conflict("the transaction is being changed by other requests; retry")

    # reads

    def member(self, caller: Caller, member_id: str) -> MemberView:
        program = _own_program(caller)
        stored = self.store.get_balance(member_account(caller.partner_id, member_id))
        if stored is None:
            raise NotFound(f"no member {member_id}")
        return MemberView(member_id=member_id, program=program, balance=_balance(stored))

    def history(
        self, caller: Caller, member_id: str, limit: int, cursor: str | None
    ) -> HistoryPage:
        account = member_account(caller.partner_id, member_id)
        entries, next_cursor = self.store.history(account, limit, cursor)
        if not entries and cursor is None and self.store.get_balance(account) is None:
            raise NotFound(f"no member {member_id}")
        return HistoryPage(items=[entry.transaction for entry in entries], next_cursor=next_cursor)

    def transaction(self, caller: Caller, transaction_id: str) -> TransactionView:
        entry = self._visible_entry(caller, transaction_id)
        reversed_points = None
        if entry.transaction.type in REVERSIBLE_TYPES:
            state = self.store.get_reversal_state(transaction_id)
            reversed_points = entry.transaction.points - state.remaining if state else 0
        return TransactionView(transaction=entry.transaction, points_reversed=reversed_points)

    # the posting loop

    def _post(
        self,
        caller: Caller,
        account: str,
        program: str,
        member_id: str,
        delta: int,
        build: Callable[[str, datetime], Transaction],
        request: IdempotentRequest,
    ) -> PostingResult:
        transaction_id = transaction_id_for(caller.partner_id, request.key)
        balance = self.store.get_balance(account)
        for attempt in range(MAX_ATTEMPTS):
            try:
                return self._commit(
                    build(transaction_id, self.clock()), account, balance, request, None
                )
            except BalanceMoved as moved:
                balance = moved.current or self.store.get_balance(account)
            self._back_off(attempt)
        raise Conflict(f"member {member_id}'s balance is changing too fast; retry")

    def _commit(
        self,
        transaction: Transaction,
        account: str,
        balance: StoredBalance | None,
        request: IdempotentRequest,
        reversal: ReversalUpdate | None,
    ) -> PostingResult:
        delta = transaction.member_delta(account)
        available = balance.available if balance else 0
        pending = balance.pending if balance else 0
        if available + delta < 0:
            if replay := self._posted(transaction.transaction_id, request):
                return replay
            raise InsufficientPoints(
                f"member {transaction.member_id} has {available} points available, "
                f"{-delta} requested"
            )
        after = Balance(program=transaction.program, available=available + delta, pending=pending)
        entry = StoredEntry(
            transaction=transaction,
            balance_after=after,
            fingerprint=request.fingerprint,
            account=account,
        )
        update = BalanceUpdate(
            account=account,
            program=transaction.program,
            partner_id=transaction.partner_id,
            member_id=transaction.member_id,
            expected_version=balance.version if balance else 0,
            available_delta=delta,
        )
        try:
            self.store.commit(entry, update, reversal)
        except EntryExists as exists:
            return _replay(exists.existing, request)
        return PostingResult(transaction=transaction, balance=after, replayed=False)

    def _posted(self, transaction_id: str, request: IdempotentRequest) -> PostingResult | None:
        """A retry of a request that already posted replays, even if it could not post now."""
        existing = self.store.get_entry(transaction_id)
        return _replay(existing, request) if existing is not None else None

    def _visible_entry(self, caller: Caller, transaction_id: str) -> StoredEntry:
        entry = self.store.get_entry(transaction_id)
        if entry is None or caller.partner_id not in (
            entry.transaction.partner_id,
            entry.transaction.initiated_by,
        ):
            raise NotFound(f"no transaction {transaction_id}")
        return entry

    def _back_off(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))


def _replay(existing: StoredEntry, request: IdempotentRequest) -> PostingResult:
    if existing.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
    return PostingResult(
        transaction=existing.transaction, balance=existing.balance_after, replayed=True
    )


def _reversed_postings(original: Transaction, points: int) -> tuple[Posting, ...]:
    """The original's postings, undone in proportion to the points reversed."""
    return tuple(
        Posting(account=posting.account, points=-posting.points * points // original.points)
        for posting in original.postings
    )


def _own_program(caller: Caller) -> str:
    if caller.program is None:
        raise NotFound("the calling partner has no program")
    return caller.program


def _balance(stored: StoredBalance) -> Balance:
    return Balance(program=stored.program, available=stored.available, pending=stored.pending)


@lru_cache(maxsize=1)
def default_ledger() -> Ledger:
    from pointsnet.settings import get_settings

    return Ledger(LedgerStore(get_settings().ledger_table))
