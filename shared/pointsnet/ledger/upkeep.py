"""The network's own postings and reviews: what the scheduled sweeps do at a given time.

Each goes through the ledger's one posting path. Their transaction ids derive from what they
resolve (a hold) or from the state they change (a lot or balance at its version), so a sweep
that runs twice, or overlaps another, posts once.
"""

from __future__ import annotations

from datetime import datetime

from pointsnet.errors import Conflict
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.ledger.account_write import tier_change
from pointsnet.ledger.accounts import expired_account, member_account, member_of
from pointsnet.ledger.engine import NETWORK, PostingResult
from pointsnet.ledger.lifecycle import on_review
from pointsnet.ledger.models import (
    ExpiringNotice,
    HoldStatus,
    InactiveNotice,
    Posting,
    Transaction,
    TransactionType,
)
from pointsnet.ledger.plans import Leg, LotPlan, LotPlanKind, PlannedWrite
from pointsnet.ledger.port import (
    BalanceUpdate,
    LedgerWrite,
    LotNoticed,
    Moved,
    StoredBalance,
)
from pointsnet.ledger.service import Ledger

# An expiry transaction's `reason`: a lot reached its date, or the balance lapsed.
EXPIRED_LOT = "lot"
EXPIRED_INACTIVE = "inactivity"
_NETWORK_EXPIRY = IdempotentRequest(key="expiry", fingerprint="network:expiry")


class NothingToDo(Exception):
    """A sweep found its item already handled (or not yet due): not an error."""


class Upkeep:
    def __init__(self, ledger: Ledger) -> None:
        self.engine = ledger.engine
        self.holds = ledger.holds
        self.store = ledger.store

    def void_lapsed_hold(self, hold_id: str, now: datetime) -> PostingResult:
        """Void a hold left open past its timeout; NothingToDo if it was resolved meanwhile."""
        entry = self.store.get_entry(hold_id)
        state = self.store.get_hold(hold_id)
        if entry is None or state is None or state.status != HoldStatus.OPEN:
            raise NothingToDo(hold_id)
        if now < state.void_after:
            raise NothingToDo(hold_id)
        void_id = derived_id("txn_", NETWORK, f"void\n{hold_id}")
        request = IdempotentRequest(key=f"void\n{hold_id}", fingerprint="network:void")
        plan = self.holds.void_plan(entry.transaction, void_id, NETWORK, "the hold timed out")
        try:
            return self.engine.post(plan, request, (void_id,), now=now).first
        except Conflict as exc:
            raise NothingToDo(hold_id) from exc

    def expire_lot(self, account: str, lot_id: str, now: datetime) -> PostingResult:
        """Post the expiry of what is left in a lapsed lot."""
        partner_id, member_id = member_of(account)

        def plan(when: datetime) -> PlannedWrite:
            balance = self.store.get_balance(account)
            lot = next((lot for lot in self.store.lots(account) if lot.lot_id == lot_id), None)
            if balance is None or lot is None or lot.expires_at > when or lot.remaining < 1:
                raise NothingToDo(f"{account} {lot_id}")
            transaction = _expiry(
                balance,
                partner_id,
                member_id,
                lot.remaining,
                reason=EXPIRED_LOT,
                reference=f"lot:{lot_id}",
                key=f"expiry\n{account}\n{lot_id}\n{balance.version}",
                when=when,
            )
            lot_plan = LotPlan(LotPlanKind.EXPIRE_LOT, lot_id=lot_id)
            return PlannedWrite(legs=(Leg(transaction, account, lots=lot_plan),))

        return self.engine.post(plan, _NETWORK_EXPIRY, (), now=now).first

    def expire_lapsed(self, account: str, now: datetime) -> PostingResult:
        """Post the expiry of an `after_inactivity` balance whose lapse date has passed."""
        partner_id, member_id = member_of(account)

        def plan(when: datetime) -> PlannedWrite:
            balance = self.store.get_balance(account)
            lapses_at = balance.lifecycle.lapses_at if balance else None
            if balance is None or lapses_at is None or lapses_at > when or balance.available < 1:
                raise NothingToDo(account)
            transaction = _expiry(
                balance,
                partner_id,
                member_id,
                balance.available,
                reason=EXPIRED_INACTIVE,
                reference=f"lapse:{lapses_at.date().isoformat()}",
                key=f"lapse\n{account}\n{lapses_at.isoformat()}\n{balance.version}",
                when=when,
            )
            lot_plan = LotPlan(LotPlanKind.EXPIRE_ALL)
            return PlannedWrite(legs=(Leg(transaction, account, lots=lot_plan),))

        return self.engine.post(plan, _NETWORK_EXPIRY, (), now=now).first

    def notice_lot(self, account: str, lot_id: str, now: datetime) -> ExpiringNotice:
        """Record a lot's `points.expiring` (published from the outbox) and move it on."""

        def attempt() -> ExpiringNotice:
            lot = next((lot for lot in self.store.lots(account) if lot.lot_id == lot_id), None)
            if lot is None or lot.noticed or lot.notice_at is None or lot.notice_at > now:
                raise NothingToDo(f"{account} {lot_id}")
            if lot.expires_at <= now:
                raise NothingToDo(f"{account} {lot_id} has expired")
            notice = ExpiringNotice(
                account=account,
                partner_id=lot.partner_id,
                member_id=lot.member_id,
                program=lot.program,
                points=lot.remaining,
                expires_at=lot.expires_at,
                lot=lot_id,
                noticed_at=now,
            )
            self.store.commit(
                LedgerWrite(
                    entries=(),
                    balances=(),
                    lots=(LotNoticed(account, lot_id, lot.version),),
                    notices=(notice,),
                )
            )
            return notice

        return self.engine.retrying(attempt, f"lot {lot_id} of {account} is changing too fast")

    def review_account(self, account: str, now: datetime) -> bool:
        """Apply what time alone changed on a balance: a lapse, a tier fall, a due notice.

        Returns whether anything was written.
        """

        def attempt() -> bool:
            balance = self.store.get_balance(account)
            if balance is None:
                return False
            partner_id, member_id = member_of(account)
            policy = self.engine.policies.policy_for(partner_id)
            lapses_at = balance.lifecycle.lapses_at
            if lapses_at is not None and lapses_at <= now and balance.available > 0:
                try:
                    self.expire_lapsed(account, now)
                except NothingToDo as changed:
                    raise Moved() from changed  # it changed meanwhile: look again
                return True
            inactive_days = self.engine.inactive_days(balance.program)
            reviewed = on_review(balance.lifecycle, policy, now, balance.available, inactive_days)
            if reviewed.state == balance.lifecycle and not reviewed.tier_move:
                return False
            version = balance.version + 1
            notices: tuple[ExpiringNotice | InactiveNotice, ...] = ()
            if reviewed.lapse_notice and lapses_at is not None:
                notices = (
                    ExpiringNotice(
                        account=account,
                        partner_id=partner_id,
                        member_id=member_id,
                        program=balance.program,
                        points=balance.available,
                        expires_at=lapses_at,
                        lot=None,
                        noticed_at=now,
                    ),
                )
            active_at = balance.lifecycle.active_at
            if reviewed.inactive_notice and inactive_days and active_at is not None:
                notices += (
                    InactiveNotice(
                        account=account,
                        partner_id=partner_id,
                        member_id=member_id,
                        program=balance.program,
                        active_at=active_at,
                        inactive_days=inactive_days,
                        noticed_at=now,
                    ),
                )
            change = tier_change(account, balance.program, reviewed.tier_move, now, version, None)
            self.store.commit(
                LedgerWrite(
                    entries=(),
                    balances=(
                        BalanceUpdate(
                            account=account,
                            program=balance.program,
                            partner_id=partner_id,
                            member_id=member_id,
                            expected_version=balance.version,
                            available_delta=0,
                            lifecycle=reviewed.state,
                        ),
                    ),
                    tier_changes=(change,) if change else (),
                    notices=notices,
                )
            )
            return True

        return self.engine.retrying(attempt, f"{account} is changing too fast to review")


def _expiry(
    balance: StoredBalance,
    partner_id: str,
    member_id: str,
    points: int,
    *,
    reason: str,
    reference: str,
    key: str,
    when: datetime,
) -> Transaction:
    account = member_account(partner_id, member_id)
    return Transaction(
        # Derived from the balance's version: the same state expires under one id only.
        transaction_id=derived_id("txn_", NETWORK, key),
        type=TransactionType.EXPIRY,
        program=balance.program,
        points=points,
        partner_id=partner_id,
        member_id=member_id,
        initiated_by=NETWORK,
        reference=reference,
        reason=reason,
        created_at=when,
        postings=(
            Posting(account=account, points=-points),
            Posting(account=expired_account(balance.program), points=points),
        ),
    )
