"""Ledger operations: earn, burn, reverse, exchange, and the member's view of them.

Every posting goes through one conditional TransactWriteItems: the immutable
entries (whose ids derive from the Idempotency-Key), the member balances,
each moved from a known version, and any guards (a link that must be active,
a quote to consume, an obligation to record). Knowing each version means the
balance after the write is known without reading it back, and stored in the
entry, so a replay returns the first response exactly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from pointsnet.idempotency import derived_id, transaction_id_for
from pointsnet.ledger.accounts import issued_account, member_account, redeemed_account
from pointsnet.ledger.commands import BurnCommand, EarnCommand, IdempotentRequest, ReverseCommand
from pointsnet.ledger.models import (
    Balance,
    Posting,
    Transaction,
    TransactionType,
    utc_now,
)
from pointsnet.network.models import LinkedAccount, Obligation
from pointsnet.network.pricing import Pricing
from pointsnet.store.ledger_store import (
    BalanceMoved,
    BalanceUpdate,
    EntryExists,
    Guard,
    GuardFailed,
    LedgerStore,
    LedgerWrite,
    ReversalMoved,
    ReversalUpdate,
    StoredBalance,
    StoredEntry,
)
from pointsnet.store.network_store import NetworkStore

# Contention on one member is rare; this bounds the work when it is not.
MAX_ATTEMPTS = 60
REVERSIBLE_TYPES = frozenset({TransactionType.EARN, TransactionType.BURN})


@dataclass(frozen=True)
class PostingResult:
    transaction: Transaction
    balance: Balance
    replayed: bool


@dataclass(frozen=True)
class MultiPostingResult:
    """Every leg of one atomic write, in order, with each member's balance after it."""

    legs: tuple[PostingResult, ...]
    replayed: bool


@dataclass(frozen=True)
class MemberView:
    member_id: str
    program: str
    balance: Balance
    links: tuple[LinkedAccount, ...] = ()


@dataclass(frozen=True)
class TransactionView:
    transaction: Transaction
    points_reversed: int | None


@dataclass(frozen=True)
class HistoryPage:
    items: list[Transaction]
    next_cursor: str | None


@dataclass(frozen=True)
class Leg:
    """One transaction of a write and the member account whose stored balance it moves."""

    transaction: Transaction
    account: str


@dataclass(frozen=True)
class PlannedWrite:
    legs: tuple[Leg, ...]
    reversal: ReversalUpdate | None = None
    guards: tuple[Guard, ...] = field(default_factory=tuple)


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        network: NetworkStore | None = None,
        pricing: Pricing | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.network = network
        self.pricing = pricing
        self.clock = clock
        self.sleep = sleep

    # writes

    def earn(
        self, caller: Caller, member_id: str, command: EarnCommand, request: IdempotentRequest
    ) -> PostingResult:
        own_program = _own_program(caller)
        if command.pending:
            raise ValidationFailed(
                "pending earns are not available on this network yet",
                details=[{"field": "pending", "message": "must be false"}],
            )
        program = command.program or own_program
        if program == own_program:
            target = LinkedAccount(
                link_id="", partner_id=caller.partner_id, program=program, member_id=member_id
            )
        else:
            target = self._linked(caller, member_id, program)
        account = member_account(target.partner_id, target.member_id)
        obligation = (
            self._pricing().cross_partner_earn(caller.partner_id, target, command.points)
            if target.link_id
            else None
        )
        transaction_id = transaction_id_for(caller.partner_id, request.key)

        def plan(now: datetime) -> PlannedWrite:
            transaction = Transaction(
                transaction_id=transaction_id,
                type=TransactionType.EARN,
                program=program,
                points=command.points,
                partner_id=target.partner_id,
                member_id=target.member_id,
                initiated_by=caller.partner_id,
                reference=command.reference,
                description=command.description,
                obligation=obligation,
                created_at=now,
                postings=(
                    Posting(account=issued_account(program), points=-command.points),
                    Posting(account=account, points=command.points),
                ),
            )
            guards: tuple[Guard, ...] = ()
            if target.link_id:
                guards = (
                    self._network().link_active_guard(target.link_id),
                    self._obligation_guard(transaction, "cross_partner_earn"),
                )
            return PlannedWrite(legs=(Leg(transaction, account),), guards=guards)

        return self._single(self._post(plan, request, (transaction_id,)))

    def burn(
        self, caller: Caller, member_id: str, command: BurnCommand, request: IdempotentRequest
    ) -> PostingResult:
        program = _own_program(caller)
        account = member_account(caller.partner_id, member_id)
        transaction_id = transaction_id_for(caller.partner_id, request.key)

        def plan(now: datetime) -> PlannedWrite:
            transaction = Transaction(
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
            return PlannedWrite(legs=(Leg(transaction, account),))

        return self._single(self._post(plan, request, (transaction_id,)))

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

        def plan(now: datetime) -> PlannedWrite:
            state = self.store.get_reversal_state(transaction_id)
            remaining = state.remaining if state else original.points
            points = command.points if command.points is not None else remaining
            if remaining == 0 or points > remaining:
                raise Conflict(
                    f"transaction {transaction_id} has {remaining} points left to reverse"
                )
            obligation = (
                original.obligation.model_copy(update={"points": -points})
                if original.obligation
                else None
            )
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
                obligation=obligation,
                created_at=now,
                postings=_reversed_postings(original, points),
            )
            guards = (self._obligation_guard(reversal, "reversal"),) if obligation else ()
            return PlannedWrite(
                legs=(Leg(reversal, account),),
                reversal=ReversalUpdate(
                    transaction_id, state.version if state else 0, remaining - points
                ),
                guards=guards,
            )

        return self._single(self._post(plan, request, (reversal_id,)))

    def post_exchange(
        self,
        plan: Callable[[datetime], PlannedWrite],
        request: IdempotentRequest,
        leg_ids: Sequence[str],
        on_guard_failed: Callable[[GuardFailed], Exception],
    ) -> MultiPostingResult:
        """Post a planned multi-leg write (an exchange); guard failures become domain errors."""
        try:
            return self._post(plan, request, leg_ids)
        except GuardFailed as failed:
            raise on_guard_failed(failed) from failed

    # reads

    def member(self, caller: Caller, member_id: str) -> MemberView:
        program = _own_program(caller)
        account = member_account(caller.partner_id, member_id)
        stored = self.store.get_balance(account)
        if stored is None:
            raise NotFound(f"no member {member_id}")
        links = tuple(self._network().linked_accounts(account)) if self.network else ()
        return MemberView(
            member_id=member_id, program=program, balance=_balance(stored), links=links
        )

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
        plan: Callable[[datetime], PlannedWrite],
        request: IdempotentRequest,
        leg_ids: Sequence[str],
    ) -> MultiPostingResult:
        """Plan, check and commit; on a concurrent change, plan again from what changed.

        `leg_ids` are the ids the request's transactions get (derived from its
        Idempotency-Key), so a retry of a request that already posted replays,
        even when it could not post now.
        """
        balances: dict[str, StoredBalance | None] = {}
        for attempt in range(MAX_ATTEMPTS):
            try:
                planned = plan(self.clock())
            except (Conflict, InsufficientPoints):
                if replay := self._posted(leg_ids, request):
                    return replay
                raise
            for leg in planned.legs:
                if leg.account not in balances:
                    balances[leg.account] = self.store.get_balance(leg.account)
            try:
                return self._commit(planned, balances, request)
            except BalanceMoved as moved:
                if moved.current is not None:
                    balances[moved.current.account] = moved.current
                else:
                    balances.clear()
            except ReversalMoved:
                pass  # the plan reads the reversal state afresh
            self._back_off(attempt)
        raise Conflict("the accounts are changing too fast; retry with the same Idempotency-Key")

    def _commit(
        self,
        planned: PlannedWrite,
        balances: dict[str, StoredBalance | None],
        request: IdempotentRequest,
    ) -> MultiPostingResult:
        entries: list[StoredEntry] = []
        updates: list[BalanceUpdate] = []
        for leg in planned.legs:
            transaction = leg.transaction
            current = balances.get(leg.account)
            delta = transaction.member_delta(leg.account)
            available = current.available if current else 0
            pending = current.pending if current else 0
            if available + delta < 0:
                if replay := self._posted(
                    [leg.transaction.transaction_id for leg in planned.legs], request
                ):
                    return replay
                raise InsufficientPoints(
                    f"member {transaction.member_id} has {available} {transaction.program} "
                    f"points available, {-delta} requested"
                )
            after = Balance(
                program=transaction.program, available=available + delta, pending=pending
            )
            entries.append(
                StoredEntry(
                    transaction=transaction,
                    balance_after=after,
                    fingerprint=request.fingerprint,
                    account=leg.account,
                )
            )
            updates.append(
                BalanceUpdate(
                    account=leg.account,
                    program=transaction.program,
                    partner_id=transaction.partner_id,
                    member_id=transaction.member_id,
                    expected_version=current.version if current else 0,
                    available_delta=delta,
                )
            )
        try:
            self.store.commit(
                LedgerWrite(
                    entries=tuple(entries),
                    balances=tuple(updates),
                    reversal=planned.reversal,
                    guards=planned.guards,
                )
            )
        except EntryExists:
            replay = self._posted([leg.transaction.transaction_id for leg in planned.legs], request)
            if replay is None:
                raise
            return replay
        return MultiPostingResult(
            legs=tuple(
                PostingResult(entry.transaction, entry.balance_after, replayed=False)
                for entry in entries
            ),
            replayed=False,
        )

    def _posted(
        self, leg_ids: Sequence[str], request: IdempotentRequest
    ) -> MultiPostingResult | None:
        existing = [self.store.get_entry(transaction_id) for transaction_id in leg_ids]
        if any(entry is None for entry in existing):
            return None
        return _replay([entry for entry in existing if entry is not None], request)

    def _visible_entry(self, caller: Caller, transaction_id: str) -> StoredEntry:
        entry = self.store.get_entry(transaction_id)
        if entry is None or caller.partner_id not in (
            entry.transaction.partner_id,
            entry.transaction.initiated_by,
        ):
            raise NotFound(f"no transaction {transaction_id}")
        return entry

    def _linked(self, caller: Caller, member_id: str, program: str) -> LinkedAccount:
        linked = self._network().linked_account(
            member_account(caller.partner_id, member_id), program
        )
        if linked is None:
            raise NotLinked(f"member {member_id} has no active link to program {program}")
        return linked

    def _obligation_guard(self, transaction: Transaction, kind: str) -> Guard:
        assert transaction.obligation is not None
        return self._network().obligation_guard(
            Obligation(
                transaction_id=transaction.transaction_id,
                kind=kind,
                created_at=transaction.created_at,
                terms=transaction.obligation,
            )
        )

    def _network(self) -> NetworkStore:
        if self.network is None:
            raise NotLinked("this ledger is not connected to the network")
        return self.network

    def _pricing(self) -> Pricing:
        if self.pricing is None:
            raise NotLinked("this ledger is not connected to the network")
        return self.pricing

    def _back_off(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))

    @staticmethod
    def _single(result: MultiPostingResult) -> PostingResult:
        return result.legs[0]


def leg_id(partner_id: str, idempotency_key: str, leg: str) -> str:
    """Ids of the second and later legs of one request (keys never contain a newline)."""
    return derived_id("txn_", partner_id, f"{idempotency_key}\n{leg}")


def _replay(existing: Sequence[StoredEntry], request: IdempotentRequest) -> MultiPostingResult:
    if any(entry.fingerprint != request.fingerprint for entry in existing):
        raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
    return MultiPostingResult(
        legs=tuple(
            PostingResult(entry.transaction, entry.balance_after, replayed=True)
            for entry in existing
        ),
        replayed=True,
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
    from pointsnet.store.directory_store import DirectoryStore

    settings = get_settings()
    network = NetworkStore(settings.ledger_table, settings.directory_table)
    return Ledger(
        LedgerStore(settings.ledger_table),
        network=network,
        pricing=Pricing(network, DirectoryStore(settings.directory_table)),
    )
