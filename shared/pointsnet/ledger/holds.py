"""Holds: pending points a partner captures (all or part) or voids, each at most once.

A hold's points sit in the member's pending sub-account, unspendable. A hold state item,
written with the hold and updated under a condition, makes its capture or void happen once;
a cross-partner hold's price is fixed when it is placed and owed when it is captured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pointsnet.auth.caller import Caller
from pointsnet.errors import Conflict, NotFound, with_article
from pointsnet.idempotency import IdempotentRequest, transaction_id_for
from pointsnet.ledger.accounts import (
    issued_account,
    member_account,
    pending_account,
    pending_of,
)
from pointsnet.ledger.commands import CaptureCommand, EarnCommand, VoidCommand
from pointsnet.ledger.earning import PricedEarn
from pointsnet.ledger.engine import PostingEngine, PostingResult
from pointsnet.ledger.models import (
    HoldState,
    HoldStatus,
    ObligationTerms,
    Posting,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from pointsnet.ledger.plans import Leg, PlannedWrite
from pointsnet.ledger.port import Guard, HoldResolution, StoredBalance
from pointsnet.ledger.views import visible_entry


@dataclass(frozen=True)
class EarnTarget:
    """The member account an earn credits: the caller's own, or a linked one elsewhere.

    `terms` is what the earning partner owes per point, when another program's owner issues
    them (`terms_for` prices the earn's points); `guards` are what the write must check (the
    link it relies on).
    """

    partner_id: str
    member_id: str
    program: str
    terms: ObligationTerms | None = None
    guards: tuple[Guard, ...] = ()

    @property
    def account(self) -> str:
        return member_account(self.partner_id, self.member_id)

    def terms_for(self, points: int) -> ObligationTerms | None:
        return self.terms.model_copy(update={"points": points}) if self.terms else None

    def issue(
        self,
        transaction_id: str,
        kind: TransactionType,
        caller: Caller,
        command: EarnCommand,
        priced: PricedEarn,
        into: str,
        now: datetime,
        **fields: Any,
    ) -> Transaction:
        """The transaction issuing the earn's points from the program into `into`."""
        return Transaction(
            transaction_id=transaction_id,
            type=kind,
            program=self.program,
            points=priced.points,
            partner_id=self.partner_id,
            member_id=self.member_id,
            initiated_by=caller.partner_id,
            reference=command.reference,
            description=command.description,
            amount=command.amount,
            action=command.action,
            rules=priced.rules,
            rules_version=priced.rules_version,
            created_at=now,
            postings=(
                Posting(account=issued_account(self.program), points=-priced.points),
                Posting(account=into, points=priced.points),
            ),
            **fields,
        )


# What an earn's plan asks to learn its points, from the balance it moves.
Pricer = Callable[[EarnTarget, EarnCommand, StoredBalance | None, datetime], PricedEarn]


class Holds:
    def __init__(self, engine: PostingEngine) -> None:
        self.engine = engine
        self.store = engine.store

    def place(
        self,
        caller: Caller,
        target: EarnTarget,
        command: EarnCommand,
        request: IdempotentRequest,
        price: Pricer,
    ) -> PostingResult:
        """Pending points: counted in the balance's `pending`, spendable once captured."""
        account = target.account
        hold_id = transaction_id_for(caller.partner_id, request.key)
        policy = self.engine.policies.policy_for(target.partner_id)

        def plan(now: datetime, current: StoredBalance | None) -> PlannedWrite:
            void_after = now + timedelta(days=policy.hold_timeout_days)
            priced = price(target, command, current, now)
            hold = target.issue(
                hold_id,
                TransactionType.HOLD,
                caller,
                command,
                priced,
                pending_account(target.partner_id, target.member_id),
                now,
                status=TransactionStatus.PENDING,
                expires_at=void_after,
            )
            state = HoldState(
                hold_id=hold_id,
                status=HoldStatus.OPEN,
                points=priced.points,
                account=account,
                program=target.program,
                partner_id=target.partner_id,
                member_id=target.member_id,
                initiated_by=caller.partner_id,
                void_after=void_after,
                obligation=target.terms_for(priced.points),
            )
            return PlannedWrite(legs=(Leg(hold, account),), guards=target.guards, hold=state)

        return self.engine.post_seeing(account, plan, request, (hold_id,)).first

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
            capture = _resolution(
                hold,
                capture_id,
                TransactionType.CAPTURE,
                caller.partner_id,
                points,
                tuple(postings),
                now,
                description=hold.description,
                obligation=(
                    state.obligation.model_copy(update={"points": points})
                    if state.obligation
                    else None
                ),
            )
            return PlannedWrite(
                legs=(Leg(capture, account),),
                hold=HoldResolution(hold_id, HoldStatus.CAPTURED, capture_id, now, points),
            )

        return self.engine.post(plan, request, (capture_id,)).first

    def void(
        self, caller: Caller, hold_id: str, command: VoidCommand, request: IdempotentRequest
    ) -> PostingResult:
        """Release every point of a hold back to its program, at most once."""
        hold = self._own_hold(caller, hold_id)
        void_id = transaction_id_for(caller.partner_id, request.key)
        plan = self.void_plan(hold, void_id, caller.partner_id, command.reason)
        return self.engine.post(plan, request, (void_id,)).first

    def void_plan(
        self, hold: Transaction, void_id: str, initiated_by: str, reason: str | None
    ) -> Callable[[datetime], PlannedWrite]:
        account = member_account(hold.partner_id, hold.member_id)

        def plan(now: datetime) -> PlannedWrite:
            # Voiding a timed-out hold does what the sweep would: anyone entitled may do it.
            state = self._open_hold(hold.transaction_id, now, lapsed_ok=True)
            void = _resolution(
                hold,
                void_id,
                TransactionType.VOID,
                initiated_by,
                state.points,
                (
                    Posting(account=pending_of(account), points=-state.points),
                    Posting(account=issued_account(hold.program), points=state.points),
                ),
                now,
                reason=reason,
            )
            return PlannedWrite(
                legs=(Leg(void, account),),
                hold=HoldResolution(hold.transaction_id, HoldStatus.VOIDED, void_id, now, 0),
            )

        return plan

    def _own_hold(self, caller: Caller, hold_id: str) -> Transaction:
        hold = visible_entry(self.store, caller, hold_id).transaction
        if hold.type != TransactionType.HOLD:
            raise Conflict(f"transaction {hold_id} is {with_article(hold.type)}, not a hold")
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


def _resolution(
    hold: Transaction,
    transaction_id: str,
    kind: TransactionType,
    initiated_by: str,
    points: int,
    postings: tuple[Posting, ...],
    now: datetime,
    **fields: Any,
) -> Transaction:
    """A capture or void: it names its hold and carries the hold's member and reference."""
    return Transaction(
        transaction_id=transaction_id,
        type=kind,
        program=hold.program,
        points=points,
        partner_id=hold.partner_id,
        member_id=hold.member_id,
        initiated_by=initiated_by,
        reference=hold.reference,
        hold_id=hold.transaction_id,
        created_at=now,
        postings=postings,
        **fields,
    )
