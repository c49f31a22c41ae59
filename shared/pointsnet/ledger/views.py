"""What a partner reads of the ledger: a member's balance and standing, history, a transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pointsnet.auth.caller import Caller
from pointsnet.errors import NotFound
from pointsnet.ledger.accounts import member_account
from pointsnet.ledger.models import Balance, HoldState, Transaction, TransactionType
from pointsnet.ledger.port import LedgerPort, StoredBalance, StoredEntry
from pointsnet.ledger.tiers import TierStanding, standing
from pointsnet.programs.policy import Policies

REVERSIBLE_TYPES = frozenset({TransactionType.EARN, TransactionType.BURN, TransactionType.CAPTURE})


@dataclass(frozen=True)
class ExpiringPoints:
    points: int
    expires_at: datetime


@dataclass(frozen=True)
class MemberView:
    member_id: str
    program: str
    balance: Balance
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


class LedgerViews:
    def __init__(
        self, store: LedgerPort, policies: Policies, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.policies = policies
        self.clock = clock

    def member(self, caller: Caller, member_id: str) -> MemberView:
        program = own_program(caller)
        account = member_account(caller.partner_id, member_id)
        stored = self.store.get_balance(account)
        if stored is None:
            raise NotFound(f"no member {member_id}")
        policy = self.policies.policy_for(caller.partner_id)
        tier = (
            standing(policy.tiers, stored.lifecycle.tier, stored.lifecycle.earned, self.clock())
            if policy.tiers
            else None
        )
        return MemberView(
            member_id=member_id,
            program=program,
            balance=Balance(
                program=stored.program, available=stored.available, pending=stored.pending
            ),
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
        entry = visible_entry(self.store, caller, transaction_id)
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


def visible_entry(store: LedgerPort, caller: Caller, transaction_id: str) -> StoredEntry:
    """The entry, if the caller is its member's partner or the one that made it."""
    entry = store.get_entry(transaction_id)
    if entry is None or caller.partner_id not in (
        entry.transaction.partner_id,
        entry.transaction.initiated_by,
    ):
        raise NotFound(f"no transaction {transaction_id}")
    return entry


def own_program(caller: Caller) -> str:
    if caller.program is None:
        raise NotFound("the calling partner has no program")
    return caller.program
