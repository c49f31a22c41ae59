"""Ledger operations: earn, hold, capture, void, burn, reverse, exchange, and the views.

Every posting goes through one conditional TransactWriteItems: the immutable
entries (whose ids derive from the Idempotency-Key), the member balances,
each moved from a known version, the expiry lots and hold state they move, and
any guards (a link that must be active, a quote to consume, an obligation to
record). Knowing each version means the balance after the write is known
without reading it back, and stored in the entry, so a replay returns the
first response exactly.

The network's own postings (a hold's timeout, an expiry: `pointsnet.ledger.upkeep`)
go through the same `post`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import (
    Conflict,
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidSignature,
    NotFound,
    NotLinked,
    PointsNetError,
    RateLimited,
    StoreUnavailable,
)
from pointsnet.idempotency import IdempotentRequest, derived_id, transaction_id_for
from pointsnet.ledger.accounts import (
    issued_account,
    member_account,
    member_of,
    pending_account,
    pending_of,
    redeemed_account,
)
from pointsnet.ledger.commands import (
    BurnCommand,
    CaptureCommand,
    EarnCommand,
    ReverseCommand,
    VoidCommand,
)
from pointsnet.ledger.lifecycle import AccountLifecycle, TierMove, after_posting
from pointsnet.ledger.lots import lot_expires_at, lot_id_for, lotted_delta, restore, take
from pointsnet.ledger.models import (
    Balance,
    HoldState,
    HoldStatus,
    LotMove,
    Posting,
    TierChange,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from pointsnet.ledger.tiers import TierStanding, month_of, standing
from pointsnet.network.models import LinkedAccount, Obligation
from pointsnet.network.pricing import Pricing
from pointsnet.observability import logger
from pointsnet.programs.policy import FixedPolicies, Policies, ProgramPolicy
from pointsnet.store.ledger_store import (
    BalanceMoved,
    BalanceUpdate,
    EntryExists,
    Guard,
    GuardFailed,
    HoldMoved,
    HoldResolution,
    LedgerStore,
    LedgerWrite,
    LotChange,
    LotCredit,
    LotDebit,
    LotMoved,
    ReversalMoved,
    ReversalUpdate,
    SignatureUse,
    StoredBalance,
    StoredEntry,
)
from pointsnet.store.network_store import NetworkStore

# Contention on one member is rare; this bounds the work when it is not.
MAX_ATTEMPTS = 60
REVERSIBLE_TYPES = frozenset({TransactionType.EARN, TransactionType.BURN, TransactionType.CAPTURE})
# Who the network's own postings are initiated by.
NETWORK = "network"
# Points these credit form an expiry lot; those they debit leave the oldest lots first.
CREDITS_A_LOT = frozenset({TransactionType.EARN, TransactionType.CAPTURE, TransactionType.EXCHANGE})
DEBITS_LOTS = frozenset({TransactionType.BURN, TransactionType.EXCHANGE})
# What renews an `after_inactivity` balance.
MEMBER_ACTIVITY = frozenset(
    {
        TransactionType.EARN,
        TransactionType.HOLD,
        TransactionType.CAPTURE,
        TransactionType.BURN,
        TransactionType.EXCHANGE,
    }
)


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
class ExpiringPoints:
    points: int
    expires_at: datetime


@dataclass(frozen=True)
class MemberView:
    member_id: str
    program: str
    balance: Balance
    links: tuple[LinkedAccount, ...] = ()
    tier: TierStanding | None = None
    expiring: tuple[ExpiringPoints, ...] = ()


@dataclass(frozen=True)
class TransactionView:
    transaction: Transaction
    points_reversed: int | None
    hold: HoldState | None = None


@dataclass(frozen=True)
class HistoryPage:
    items: list[Transaction]
    next_cursor: str | None


class LotPlanKind(StrEnum):
    AUTO = "auto"  # by the transaction's type: credits form a lot, debits take from lots
    NONE = "none"
    CREATE = "create"
    TAKE = "take"
    RESTORE = "restore"
    EXPIRE_LOT = "expire_lot"
    EXPIRE_ALL = "expire_all"


@dataclass(frozen=True)
class LotPlan:
    """How a leg moves the member's expiry lots."""

    kind: LotPlanKind = LotPlanKind.AUTO
    first: str | None = None  # TAKE: the lot to take from first
    unlotted_first: bool = False  # TAKE: never-expiring points first
    consumed: tuple[LotMove, ...] = ()  # RESTORE: what the reversed debit took
    already: int = 0  # RESTORE: points of it given back before
    lot_id: str | None = None  # EXPIRE_LOT


@dataclass(frozen=True)
class Leg:
    """One transaction of a write and the member account whose stored balance it moves."""

    transaction: Transaction
    account: str
    lots: LotPlan = LotPlan()
    # (month, points) this leg adds to the tier window; None: an earn's or capture's points.
    tier_points: tuple[str, int] | None = None


@dataclass(frozen=True)
class PlannedWrite:
    legs: tuple[Leg, ...]
    reversal: ReversalUpdate | None = None
    guards: tuple[Guard, ...] = field(default_factory=tuple)
    hold: HoldState | HoldResolution | None = None


@dataclass(frozen=True)
class _AccountWrite:
    entry: StoredEntry
    update: BalanceUpdate
    lots: tuple[LotChange, ...]
    tier_change: TierChange | None


class Ledger:
    def __init__(
        self,
        store: LedgerStore,
        network: NetworkStore | None = None,
        pricing: Pricing | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        policies: Policies | None = None,
    ) -> None:
        self.store = store
        self.network = network
        self.pricing = pricing
        self.clock = clock
        self.sleep = sleep
        self.policies: Policies = policies or FixedPolicies()

    # writes

    def earn(
        self, caller: Caller, member_id: str, command: EarnCommand, request: IdempotentRequest
    ) -> PostingResult:
        own_program = _own_program(caller)
        program = command.program or own_program
        # An earn and a hold both take the id their key derives.
        transaction_id = transaction_id_for(caller.partner_id, request.key)
        if program == own_program:
            target = LinkedAccount(
                link_id="", partner_id=caller.partner_id, program=program, member_id=member_id
            )
        else:
            try:
                target = self._linked(caller, member_id, program)
            except NotLinked:
                # A retry of an earn that posted replays it, though the link has gone since.
                if replay := self._posted((transaction_id,), request):
                    return self._single(replay)
                raise
        if command.pending:
            return self._hold(caller, target, command, request)
        account = member_account(target.partner_id, target.member_id)
        obligation = (
            self._pricing().cross_partner_earn(caller.partner_id, target, command.points)
            if target.link_id
            else None
        )

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

        return self._single(self.post(plan, request, (transaction_id,)))

    def capture(
        self, caller: Caller, hold_id: str, command: CaptureCommand, request: IdempotentRequest
    ) -> PostingResult:
        """Make all or part of a hold's points available and release the rest, at most once."""
        hold = self._own_hold(caller, hold_id)
        capture_id = transaction_id_for(caller.partner_id, request.key)
        account = member_account(hold.partner_id, hold.member_id)

        def plan(now: datetime) -> PlannedWrite:
            state = self._open_hold(hold_id, now)
            points = command.points if command.points is not None else state.points
            if points > state.points:
                raise Conflict(f"hold {hold_id} holds {state.points} points, not {points}")
            released = state.points - points
            postings = [
                Posting(account=pending_of(account), points=-state.points),
                Posting(account=account, points=points),
            ]
            if released:
                postings.append(Posting(account=issued_account(hold.program), points=released))
            capture = Transaction(
                transaction_id=capture_id,
                type=TransactionType.CAPTURE,
                program=hold.program,
                points=points,
                partner_id=hold.partner_id,
                member_id=hold.member_id,
                initiated_by=caller.partner_id,
                reference=hold.reference,
                description=hold.description,
                hold_id=hold_id,
                obligation=(
                    state.obligation.model_copy(update={"points": points})
                    if state.obligation
                    else None
                ),
                created_at=now,
                postings=tuple(postings),
            )
            guards = (
                (self._obligation_guard(capture, "cross_partner_earn"),)
                if capture.obligation
                else ()
            )
            return PlannedWrite(
                legs=(Leg(capture, account),),
                guards=guards,
                hold=HoldResolution(hold_id, HoldStatus.CAPTURED, capture_id, now, points),
            )

        return self._single(self.post(plan, request, (capture_id,)))

    def void(
        self, caller: Caller, hold_id: str, command: VoidCommand, request: IdempotentRequest
    ) -> PostingResult:
        """Release every point of a hold back to its program, at most once."""
        hold = self._own_hold(caller, hold_id)
        void_id = transaction_id_for(caller.partner_id, request.key)
        return self._single(
            self.post(
                self.void_plan(hold, void_id, caller.partner_id, command.reason),
                request,
                (void_id,),
            )
        )

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

        return self._single(self.post(plan, request, (transaction_id,)))

    def reverse(
        self,
        caller: Caller,
        transaction_id: str,
        command: ReverseCommand,
        request: IdempotentRequest,
    ) -> PostingResult:
        original_entry = self._visible_entry(caller, transaction_id)
        original = original_entry.transaction
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
            if original.type == TransactionType.BURN:
                leg = Leg(
                    reversal,
                    account,
                    lots=LotPlan(
                        LotPlanKind.RESTORE,
                        consumed=original_entry.lots,
                        already=original.points - remaining,
                    ),
                )
            else:
                own_lot = _created_lot(original_entry)
                leg = Leg(
                    reversal,
                    account,
                    lots=LotPlan(LotPlanKind.TAKE, first=own_lot, unlotted_first=own_lot is None),
                    tier_points=(month_of(original.created_at), -points),
                )
            return PlannedWrite(
                legs=(leg,),
                reversal=ReversalUpdate(
                    transaction_id, state.version if state else 0, remaining - points
                ),
                guards=guards,
            )

        return self._single(self.post(plan, request, (reversal_id,)))

    def post_exchange(
        self,
        plan: Callable[[datetime], PlannedWrite],
        request: IdempotentRequest,
        leg_ids: Sequence[str],
        on_guard_failed: Callable[[GuardFailed], Exception],
    ) -> MultiPostingResult:
        """Post a planned multi-leg write (an exchange); guard failures become domain errors."""
        try:
            return self.post(plan, request, leg_ids)
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
        policy = self.policies.policy_for(caller.partner_id)
        now = self.clock()
        tier = (
            standing(policy.tiers, stored.lifecycle.tier, stored.lifecycle.earned, now)
            if policy.tiers
            else None
        )
        return MemberView(
            member_id=member_id,
            program=program,
            balance=_balance(stored),
            links=links,
            tier=tier,
            expiring=self._expiring(stored),
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
        hold = (
            self.store.get_hold(transaction_id)
            if entry.transaction.type == TransactionType.HOLD
            else None
        )
        return TransactionView(
            transaction=entry.transaction, points_reversed=reversed_points, hold=hold
        )

    # holds

    def _hold(
        self,
        caller: Caller,
        target: LinkedAccount,
        command: EarnCommand,
        request: IdempotentRequest,
    ) -> PostingResult:
        """Pending points: counted in the balance's `pending`, spendable once captured."""
        account = member_account(target.partner_id, target.member_id)
        hold_id = transaction_id_for(caller.partner_id, request.key)
        policy = self.policies.policy_for(target.partner_id)
        # The price of a cross-partner hold is fixed when it is placed, owed when captured.
        terms = (
            self._pricing().cross_partner_earn(caller.partner_id, target, command.points)
            if target.link_id
            else None
        )

        def plan(now: datetime) -> PlannedWrite:
            void_after = now + timedelta(days=policy.hold_timeout_days)
            hold = Transaction(
                transaction_id=hold_id,
                type=TransactionType.HOLD,
                status=TransactionStatus.PENDING,
                program=target.program,
                points=command.points,
                partner_id=target.partner_id,
                member_id=target.member_id,
                initiated_by=caller.partner_id,
                reference=command.reference,
                description=command.description,
                expires_at=void_after,
                created_at=now,
                postings=(
                    Posting(account=issued_account(target.program), points=-command.points),
                    Posting(
                        account=pending_account(target.partner_id, target.member_id),
                        points=command.points,
                    ),
                ),
            )
            state = HoldState(
                hold_id=hold_id,
                status=HoldStatus.OPEN,
                points=command.points,
                account=account,
                program=target.program,
                partner_id=target.partner_id,
                member_id=target.member_id,
                initiated_by=caller.partner_id,
                void_after=void_after,
                obligation=terms,
            )
            guards = (self._network().link_active_guard(target.link_id),) if target.link_id else ()
            return PlannedWrite(legs=(Leg(hold, account),), guards=guards, hold=state)

        return self._single(self.post(plan, request, (hold_id,)))

    def void_plan(
        self, hold: Transaction, void_id: str, initiated_by: str, reason: str | None
    ) -> Callable[[datetime], PlannedWrite]:
        account = member_account(hold.partner_id, hold.member_id)

        def plan(now: datetime) -> PlannedWrite:
            # Voiding a timed-out hold does what the sweep would: anyone entitled may do it.
            state = self._open_hold(hold.transaction_id, now, lapsed_ok=True)
            void = Transaction(
                transaction_id=void_id,
                type=TransactionType.VOID,
                program=hold.program,
                points=state.points,
                partner_id=hold.partner_id,
                member_id=hold.member_id,
                initiated_by=initiated_by,
                reference=hold.reference,
                reason=reason,
                hold_id=hold.transaction_id,
                created_at=now,
                postings=(
                    Posting(account=pending_of(account), points=-state.points),
                    Posting(account=issued_account(hold.program), points=state.points),
                ),
            )
            return PlannedWrite(
                legs=(Leg(void, account),),
                hold=HoldResolution(hold.transaction_id, HoldStatus.VOIDED, void_id, now, 0),
            )

        return plan

    def _own_hold(self, caller: Caller, hold_id: str) -> Transaction:
        hold = self._visible_entry(caller, hold_id).transaction
        if hold.type != TransactionType.HOLD:
            raise Conflict(f"transaction {hold_id} is a {hold.type}, not a hold")
        if hold.initiated_by != caller.partner_id:
            raise Conflict("only the partner that placed a hold may capture or void it")
        return hold

    def _open_hold(self, hold_id: str, now: datetime, *, lapsed_ok: bool = False) -> HoldState:
        state = self.store.get_hold(hold_id)
        if state is None:
            raise NotFound(f"no hold {hold_id}")
        if state.status != HoldStatus.OPEN:
            raise Conflict(f"hold {hold_id} was already {state.status.value}")
        if now >= state.void_after and not lapsed_ok:
            raise Conflict(f"hold {hold_id} timed out at {state.void_after.isoformat()}")
        return state

    # the posting loop

    def post(
        self,
        plan: Callable[[datetime], PlannedWrite],
        request: IdempotentRequest,
        leg_ids: Sequence[str],
        *,
        now: datetime | None = None,
    ) -> MultiPostingResult:
        """Plan, check and commit; on a concurrent change, plan again from what changed.

        `leg_ids` are the ids the request's transactions get (derived from its
        Idempotency-Key), so a retry of a request that already posted replays,
        even when it could not post now. `now` fixes the time (a sweep's run).
        """
        balances: dict[str, StoredBalance | None] = {}
        for attempt in range(MAX_ATTEMPTS):
            try:
                planned = plan(now or self.clock())
            except (StoreUnavailable, RateLimited):
                raise
            except PointsNetError:
                # A refusal now (quote expired, link gone, points spent...) does not undo what
                # this key posted before: the earlier answer replays, or its reuse is refused.
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
            except (ReversalMoved, HoldMoved, LotMoved):
                balances.clear()  # the plan reads them afresh; the balances may have moved too
            self.back_off(attempt)
        raise Conflict("the accounts are changing too fast; retry with the same Idempotency-Key")

    def _commit(
        self,
        planned: PlannedWrite,
        balances: dict[str, StoredBalance | None],
        request: IdempotentRequest,
    ) -> MultiPostingResult:
        writes: list[_AccountWrite] = []
        for leg in planned.legs:
            current = balances.get(leg.account)
            delta = leg.transaction.member_delta(leg.account)
            available = current.available if current else 0
            if available + delta < 0:
                if replay := self._posted(
                    [leg.transaction.transaction_id for leg in planned.legs], request
                ):
                    return replay
                raise InsufficientPoints(
                    f"member {leg.transaction.member_id} has {available} "
                    f"{leg.transaction.program} points available, {-delta} requested"
                )
            writes.append(self._account_write(leg, current, request))
        try:
            self.store.commit(
                LedgerWrite(
                    entries=tuple(write.entry for write in writes),
                    balances=tuple(write.update for write in writes),
                    reversal=planned.reversal,
                    guards=planned.guards,
                    lots=tuple(change for write in writes for change in write.lots),
                    hold=planned.hold,
                    tier_changes=tuple(write.tier_change for write in writes if write.tier_change),
                    signature=_signature_use(planned, request),
                )
            )
        except EntryExists:
            replay = self._posted([leg.transaction.transaction_id for leg in planned.legs], request)
            if replay is None:
                raise
            return replay
        for write in writes:
            log_posting(write.entry)
        return MultiPostingResult(
            legs=tuple(
                PostingResult(write.entry.transaction, write.entry.balance_after, replayed=False)
                for write in writes
            ),
            replayed=False,
        )

    def _account_write(
        self, leg: Leg, current: StoredBalance | None, request: IdempotentRequest
    ) -> _AccountWrite:
        """Everything one leg changes on its member: balance, lots, tier window, lapse date."""
        transaction = leg.transaction
        policy = self.policies.policy_for(transaction.partner_id)
        delta = transaction.member_delta(leg.account)
        pending_delta = transaction.member_delta(pending_of(leg.account))
        available = (current.available if current else 0) + delta
        pending = (current.pending if current else 0) + pending_delta
        if pending < 0:
            raise Conflict(f"{transaction.transaction_id} would release points that are not held")
        moves, lot_changes = self._lot_moves(leg, current, policy, delta)
        before = current.lifecycle if current else AccountLifecycle()
        tier_points = leg.tier_points
        if tier_points is None and transaction.type in (
            TransactionType.EARN,
            TransactionType.CAPTURE,
        ):
            tier_points = (month_of(transaction.created_at), transaction.points)
        lifecycle, tier_move = after_posting(
            before,
            policy,
            transaction.created_at,
            earned=tier_points,
            activity=transaction.type in MEMBER_ACTIVITY,
            available_after=available,
        )
        partner_id, member_id = member_of(leg.account)
        version = (current.version if current else 0) + 1
        return _AccountWrite(
            entry=StoredEntry(
                transaction=transaction,
                balance_after=Balance(
                    program=transaction.program, available=available, pending=pending
                ),
                fingerprint=request.fingerprint,
                account=leg.account,
                # A record of never-expiring points only is the same as no record.
                lots=tuple(moves) if any(move.lot for move in moves) else (),
            ),
            update=BalanceUpdate(
                account=leg.account,
                program=transaction.program,
                partner_id=partner_id,
                member_id=member_id,
                expected_version=current.version if current else 0,
                available_delta=delta,
                pending_delta=pending_delta,
                lotted_delta=lotted_delta(moves),
                lifecycle=lifecycle if lifecycle != before else None,
            ),
            lots=lot_changes,
            tier_change=tier_change(
                leg.account,
                transaction.program,
                tier_move,
                transaction.created_at,
                version,
                transaction.transaction_id,
            ),
        )

    def _lot_moves(
        self, leg: Leg, current: StoredBalance | None, policy: ProgramPolicy, delta: int
    ) -> tuple[list[LotMove], tuple[LotChange, ...]]:
        transaction = leg.transaction
        kind = leg.lots.kind
        if kind == LotPlanKind.AUTO:
            if delta > 0 and transaction.type in CREDITS_A_LOT and policy.lots_expire:
                kind = LotPlanKind.CREATE
            elif delta < 0 and transaction.type in DEBITS_LOTS:
                kind = LotPlanKind.TAKE
            else:
                kind = LotPlanKind.NONE
        if kind == LotPlanKind.NONE or delta == 0:
            return [], ()
        partner_id, member_id = member_of(leg.account)

        def credit(lot_id: str, points: int) -> LotCredit:
            notice_at = policy.expiry.notice_at(lot_expires_at(lot_id)) if policy.expiry else None
            return LotCredit(
                leg.account, lot_id, points, transaction.program, partner_id, member_id, notice_at
            )

        if kind == LotPlanKind.CREATE:
            assert policy.expiry is not None
            lot_id = lot_id_for(policy.expiry.lot_expiry(transaction.created_at))
            return [LotMove(lot=lot_id, points=delta)], (credit(lot_id, delta),)
        if kind == LotPlanKind.RESTORE:
            moves = restore(leg.lots.consumed, leg.lots.already, delta)
            return moves, tuple(credit(move.lot, move.points) for move in moves if move.lot)
        lotted = current.lotted if current else 0
        if lotted == 0:
            return [], ()  # nothing is lotted: every point leaving never expires
        stored = {lot.lot_id: lot for lot in self.store.lots(leg.account)}
        lots = [lot.as_lot() for lot in stored.values()]
        unlotted = (current.available if current else 0) - lotted
        if kind == LotPlanKind.EXPIRE_LOT:
            lot_id = leg.lots.lot_id or ""
            if lot_id not in stored or stored[lot_id].remaining != -delta:
                raise LotMoved()
            moves = [LotMove(lot=lot_id, points=delta)]
        else:
            moves = take(
                lots,
                unlotted,
                -delta,
                first=leg.lots.first,
                unlotted_first=leg.lots.unlotted_first,
            )
        debits = tuple(
            LotDebit(
                leg.account,
                move.lot,
                stored[move.lot].version,
                stored[move.lot].remaining + move.points,
            )
            for move in moves
            if move.lot is not None
        )
        return moves, debits

    def _posted(
        self, leg_ids: Sequence[str], request: IdempotentRequest
    ) -> MultiPostingResult | None:
        if not leg_ids:
            return None
        existing = [self.store.get_entry(transaction_id) for transaction_id in leg_ids]
        found = [entry for entry in existing if entry is not None]
        if not found:
            self._refuse_reused_signature(request, leg_ids[0])
            return None
        if len(found) < len(existing):
            # A request's legs post together: some without the others were another request's,
            # under the same key (an earn's key reused for an exchange, say).
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request"
            )
        return _replay(found, request)

    def _refuse_reused_signature(self, request: IdempotentRequest, transaction_id: str) -> None:
        """Refuse a v1 signature that already posted under another Idempotency-Key.

        A replay is refused as that whatever else stops it now (a hold resolved, a quote used,
        points spent). Only refusals pay this read: a posting's own check is its condition.
        """
        if request.v1_signature is None:
            return
        authorised = self.store.signature_use(request.v1_signature.digest)
        if authorised is not None and authorised != transaction_id:
            raise InvalidSignature(
                "this v1 signature was already used with another Idempotency-Key"
            )

    def _expiring(self, stored: StoredBalance) -> tuple[ExpiringPoints, ...]:
        """What will expire and when, soonest first."""
        lapses_at = stored.lifecycle.lapses_at
        dated = (
            [
                ExpiringPoints(points=lot.remaining, expires_at=lot.expires_at)
                for lot in self.store.lots(stored.account)
            ]
            if stored.lotted
            else []
        )
        if lapses_at is not None:
            dated = [point for point in dated if point.expires_at < lapses_at]
            rest = stored.available - sum(point.points for point in dated)
            if rest > 0:
                dated.append(ExpiringPoints(points=rest, expires_at=lapses_at))
        return tuple(sorted(dated, key=lambda point: point.expires_at))

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

    def back_off(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))

    @staticmethod
    def _single(result: MultiPostingResult) -> PostingResult:
        return result.legs[0]


def leg_id(partner_id: str, idempotency_key: str, leg: str) -> str:
    """Ids of the second and later legs of one request (keys never contain a newline)."""
    return derived_id("txn_", partner_id, f"{idempotency_key}\n{leg}")


def _signature_use(planned: PlannedWrite, request: IdempotentRequest) -> SignatureUse | None:
    """A v1 signature is remembered with what it posted; a v2 one signed its key already."""
    if request.v1_signature is None:
        return None
    return SignatureUse(
        digest=request.v1_signature.digest,
        transaction_id=planned.legs[0].transaction.transaction_id,
        valid_until=request.v1_signature.valid_until,
    )


def log_posting(entry: StoredEntry) -> None:
    """The audit trail: one line per committed transaction (the request id is a logger key)."""
    transaction = entry.transaction
    related = {
        name: value
        for name, value in (
            ("reverses", transaction.reverses),
            ("exchange_id", transaction.exchange_id),
            ("hold_id", transaction.hold_id),
        )
        if value is not None
    }
    logger.info(
        "ledger posting",
        extra={
            "transaction_id": transaction.transaction_id,
            "transaction_type": transaction.type.value,
            "transaction_status": transaction.status.value,
            "program": transaction.program,
            "partner_id": transaction.partner_id,
            "member_id": transaction.member_id,
            "initiated_by": transaction.initiated_by,
            "points": transaction.points,
            "balance_available": entry.balance_after.available,
            "balance_pending": entry.balance_after.pending,
            **related,
        },
    )


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
    if original.type == TransactionType.CAPTURE:
        # A capture's release went back to the program already: only what it credited returns.
        return (
            Posting(
                account=member_account(original.partner_id, original.member_id), points=-points
            ),
            Posting(account=issued_account(original.program), points=points),
        )
    return tuple(
        Posting(account=posting.account, points=-posting.points * points // original.points)
        for posting in original.postings
    )


def _created_lot(entry: StoredEntry) -> str | None:
    return next((move.lot for move in entry.lots if move.lot and move.points > 0), None)


def tier_change(
    account: str,
    program: str,
    move: TierMove | None,
    at: datetime,
    version: int,
    transaction_id: str | None,
) -> TierChange | None:
    if move is None:
        return None
    partner_id, member_id = member_of(account)
    return TierChange(
        account=account,
        partner_id=partner_id,
        member_id=member_id,
        program=program,
        from_tier=move.from_tier,
        to_tier=move.to_tier,
        direction=move.direction,
        points_earned=move.points_earned,
        window_start=move.window_start,
        changed_at=at,
        version=version,
        transaction_id=transaction_id,
    )


def _own_program(caller: Caller) -> str:
    if caller.program is None:
        raise NotFound("the calling partner has no program")
    return caller.program


def _balance(stored: StoredBalance) -> Balance:
    return Balance(program=stored.program, available=stored.available, pending=stored.pending)


@lru_cache(maxsize=1)
def default_ledger() -> Ledger:
    from pointsnet.programs.policy import PolicyBook
    from pointsnet.settings import get_settings
    from pointsnet.store.directory_store import DirectoryStore
    from pointsnet.store.policy_store import PolicyStore

    settings = get_settings()
    network = NetworkStore(settings.ledger_table, settings.directory_table)
    return Ledger(
        LedgerStore(settings.ledger_table),
        network=network,
        pricing=Pricing(network, DirectoryStore(settings.directory_table)),
        policies=PolicyBook(
            PolicyStore(settings.directory_table), cache_seconds=settings.policy_cache_seconds
        ),
    )
