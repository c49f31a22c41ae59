"""What one leg of a posting changes on its member: balance, lots, tier window, lapse date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pointsnet.errors import Conflict
from pointsnet.idempotency import IdempotentRequest
from pointsnet.ledger.accounts import member_of, pending_of
from pointsnet.ledger.lifecycle import AccountLifecycle, TierMove, after_posting
from pointsnet.ledger.lots import lot_expires_at, lot_id_for, lotted_delta, restore, take
from pointsnet.ledger.models import Balance, LotMove, TierChange, TransactionType
from pointsnet.ledger.plans import Leg, LotPlanKind
from pointsnet.ledger.port import (
    BalanceUpdate,
    LedgerPort,
    LotChange,
    LotCredit,
    LotDebit,
    LotMoved,
    StoredBalance,
    StoredEntry,
)
from pointsnet.ledger.tiers import month_of
from pointsnet.programs.policy import Policies, ProgramPolicy

# Points these credit form an expiry lot; those they debit leave the oldest lots first.
CREDITS_A_LOT = frozenset(
    {
        TransactionType.EARN,
        TransactionType.CAPTURE,
        TransactionType.EXCHANGE,
        TransactionType.IMPORT,
    }
)
DEBITS_LOTS = frozenset({TransactionType.BURN, TransactionType.EXCHANGE})
# What renews an `after_inactivity` balance.
MEMBER_ACTIVITY = frozenset(
    {
        TransactionType.EARN,
        TransactionType.HOLD,
        TransactionType.CAPTURE,
        TransactionType.BURN,
        TransactionType.EXCHANGE,
        TransactionType.IMPORT,  # joining the network starts the member's clock
    }
)


@dataclass(frozen=True)
class AccountWrite:
    entry: StoredEntry
    update: BalanceUpdate
    lots: tuple[LotChange, ...]
    tier_change: TierChange | None


def account_write(
    store: LedgerPort,
    policies: Policies,
    leg: Leg,
    current: StoredBalance | None,
    request: IdempotentRequest,
    inactive_days: int | None = None,
) -> AccountWrite:
    transaction = leg.transaction
    policy = policies.policy_for(transaction.partner_id)
    delta = transaction.member_delta(leg.account)
    pending_delta = transaction.member_delta(pending_of(leg.account))
    available = (current.available if current else 0) + delta
    pending = (current.pending if current else 0) + pending_delta
    if pending < 0:
        raise Conflict(f"{transaction.transaction_id} would release points that are not held")
    moves, lot_changes = _lot_moves(store, leg, current, policy, delta)
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
        action=transaction.action if transaction.type == TransactionType.EARN else None,
        inactive_days=inactive_days,
    )
    partner_id, member_id = member_of(leg.account)
    version = (current.version if current else 0) + 1
    return AccountWrite(
        entry=StoredEntry(
            transaction=transaction,
            balance_after=Balance(
                program=transaction.program, available=available, pending=pending
            ),
            fingerprint=request.fingerprint,
            account=leg.account,
            # A record of never-expiring points only is the same as no record.
            lots=tuple(moves) if any(move.lot for move in moves) else (),
            number=(current.entries if current else 0) + 1,
            previous=current.last_entry if current else None,
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
            entries_delta=1,
            last_entry=transaction.transaction_id,
        ),
        lots=lot_changes,
        tier_change=tier_change(
            leg.account,
            transaction.program,
            tier_move if leg.records_tier_change else None,
            transaction.created_at,
            version,
            transaction.transaction_id,
        ),
    )


def _lot_moves(
    store: LedgerPort,
    leg: Leg,
    current: StoredBalance | None,
    policy: ProgramPolicy,
    delta: int,
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

    if kind == LotPlanKind.GIVEN:
        moves = list(leg.lots.given)
        return moves, tuple(credit(move.lot, move.points) for move in moves if move.lot)
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
    stored = {lot.lot_id: lot for lot in store.lots(leg.account)}
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
