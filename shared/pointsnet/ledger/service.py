"""The ledger's partner operations: earn (or hold), burn and reverse, on the posting engine.

`Ledger` is the facade the partner API calls; the engine posts, `holds` captures and voids,
`views` reads. An earn in another program, through a member's link, is the network's
(`pointsnet.network.cross_partner`): it credits an `EarnTarget` here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import Conflict, NotLinked, with_article
from pointsnet.idempotency import IdempotentRequest, transaction_id_for
from pointsnet.ledger.accounts import issued_account, member_account, redeemed_account
from pointsnet.ledger.commands import BurnCommand, EarnCommand, ReverseCommand
from pointsnet.ledger.earning import (
    EarnFollowUps,
    EarnRules,
    MemberStanding,
    PointsAsSent,
    PricedEarn,
    sent_points,
)
from pointsnet.ledger.engine import PostingEngine, PostingResult
from pointsnet.ledger.holds import EarnTarget, Holds
from pointsnet.ledger.lifecycle import AccountLifecycle
from pointsnet.ledger.models import Posting, Transaction, TransactionType
from pointsnet.ledger.plans import Leg, LotPlan, LotPlanKind, PlannedWrite
from pointsnet.ledger.port import LedgerPort, ReversalUpdate, StoredBalance, StoredEntry
from pointsnet.ledger.tiers import month_of
from pointsnet.ledger.views import REVERSIBLE_TYPES, LedgerViews, own_program, visible_entry
from pointsnet.programs.policy import Policies


class Ledger:
    def __init__(
        self,
        store: LedgerPort,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        policies: Policies | None = None,
        rules: EarnRules | None = None,
        follow_ups: EarnFollowUps | None = None,
    ) -> None:
        self.engine = PostingEngine(store, policies, clock, sleep)
        self.rules: EarnRules = rules or PointsAsSent()
        self.engine.inactive_days = self.rules.inactive_days
        self.follow_ups = follow_ups
        self.store = store
        self.clock = clock
        self.policies = self.engine.policies
        self.holds = Holds(self.engine)
        self.views = LedgerViews(store, self.policies, clock)

    def earn(
        self, caller: Caller, member_id: str, command: EarnCommand, request: IdempotentRequest
    ) -> PostingResult:
        """Points in the caller's own program; another program's are the network's to earn."""
        program = own_program(caller)
        if command.program not in (None, program):
            raise NotLinked(f"member {member_id} has no active link to program {command.program}")
        target = EarnTarget(partner_id=caller.partner_id, member_id=member_id, program=program)
        return self.earn_into(caller, target, command, request)

    def earn_into(
        self, caller: Caller, target: EarnTarget, command: EarnCommand, request: IdempotentRequest
    ) -> PostingResult:
        if command.pending:
            return self.holds.place(caller, target, command, request, self.price)
        # An earn and a hold both take the id their key derives.
        transaction_id = transaction_id_for(caller.partner_id, request.key)
        account = target.account

        def plan(now: datetime, current: StoredBalance | None) -> PlannedWrite:
            priced = self.price(target, command, current, now)
            transaction = target.issue(
                transaction_id,
                TransactionType.EARN,
                caller,
                command,
                priced,
                account,
                now,
                obligation=target.terms_for(priced.points),
            )
            return PlannedWrite(legs=(Leg(transaction, account),), guards=target.guards)

        result = self.engine.post_seeing(account, plan, request, (transaction_id,)).first
        if self.follow_ups is not None:
            self.follow_ups.after_earn(result)
        return result

    def price(
        self,
        target: EarnTarget,
        command: EarnCommand,
        current: StoredBalance | None,
        now: datetime,
    ) -> PricedEarn:
        """The earn's points: as sent, or by the target program's rules for this member."""
        if not command.by_rules:
            return sent_points(command)
        lifecycle = current.lifecycle if current else AccountLifecycle()
        policy = self.policies.policy_for(target.partner_id)
        standing = MemberStanding(
            tier=lifecycle.tier or policy.base_tier,
            active_at=lifecycle.active_at,
            actions_today=lifecycle.actions_today(command.action, now) if command.action else 0,
        )
        return self.rules.price(target.program, command, standing, now)

    def burn(
        self, caller: Caller, member_id: str, command: BurnCommand, request: IdempotentRequest
    ) -> PostingResult:
        program = own_program(caller)
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

        return self.engine.post(plan, request, (transaction_id,)).first

    def reverse(
        self,
        caller: Caller,
        transaction_id: str,
        command: ReverseCommand,
        request: IdempotentRequest,
    ) -> PostingResult:
        original_entry = visible_entry(self.store, caller, transaction_id)
        original = original_entry.transaction
        if original.initiated_by != caller.partner_id:
            raise Conflict("only the partner that made a transaction may reverse it")
        if original.type not in REVERSIBLE_TYPES:
            raise Conflict(f"{with_article(original.type)} transaction cannot be reversed")
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
                obligation=(
                    original.obligation.model_copy(update={"points": -points})
                    if original.obligation
                    else None
                ),
                created_at=now,
                postings=_reversed_postings(original, points),
            )
            return PlannedWrite(
                legs=(_reversal_leg(reversal, account, original_entry, remaining),),
                reversal=ReversalUpdate(
                    transaction_id, state.version if state else 0, remaining - points
                ),
            )

        return self.engine.post(plan, request, (reversal_id,)).first


def _reversal_leg(
    reversal: Transaction, account: str, original_entry: StoredEntry, remaining: int
) -> Leg:
    """A reversed burn gives points back to the lots it took; a reversed credit takes its own."""
    original = original_entry.transaction
    if original.type == TransactionType.BURN:
        return Leg(
            reversal,
            account,
            lots=LotPlan(
                LotPlanKind.RESTORE,
                consumed=original_entry.lots,
                already=original.points - remaining,
            ),
        )
    own_lot = next((move.lot for move in original_entry.lots if move.lot and move.points > 0), None)
    return Leg(
        reversal,
        account,
        lots=LotPlan(LotPlanKind.TAKE, first=own_lot, unlotted_first=own_lot is None),
        tier_points=(month_of(original.created_at), -reversal.points),
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
