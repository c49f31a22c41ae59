"""The posting engine: plan, commit, retry when what the plan read has moved, replay.

Every posting, a partner's or the network's own, goes through `PostingEngine.post`: one
conditional `LedgerWrite` of the immutable entries (whose ids derive from the
Idempotency-Key), the member balances, each moved from a known version, the expiry lots
and hold state they move, and any guards. Knowing each version means the balance after the
write is known without reading it back and is stored in the entry, so a replay returns the
first response exactly. `retrying` is the one bounded retry loop; upkeep uses it too.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pointsnet.clock import utc_now
from pointsnet.errors import (
    Conflict,
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidSignature,
    PointsNetError,
    RateLimited,
    StoreUnavailable,
)
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.ledger.account_write import AccountWrite, account_write
from pointsnet.ledger.models import (
    Balance,
    Obligation,
    Transaction,
    TransactionType,
)
from pointsnet.ledger.plans import PlannedWrite
from pointsnet.ledger.port import (
    BalanceMoved,
    EntryExists,
    LedgerPort,
    LedgerWrite,
    Moved,
    SignatureUse,
    StoredBalance,
    StoredEntry,
)
from pointsnet.observability import logger
from pointsnet.programs.policy import FixedPolicies, Policies

# Contention on one member is rare; this bounds the work when it is not.
MAX_ATTEMPTS = 60
# Who the network's own postings are initiated by.
NETWORK = "network"
# The obligation each kind of cross-partner entry records, by the entry's type.
OBLIGATION_KINDS = {
    TransactionType.EARN: "cross_partner_earn",
    TransactionType.CAPTURE: "cross_partner_earn",
    TransactionType.REVERSAL: "reversal",
    TransactionType.EXCHANGE: "exchange",
}

T = TypeVar("T")


@dataclass(frozen=True)
class PostingResult:
    transaction: Transaction
    balance: Balance
    replayed: bool
    number: int = 0  # the entry's place in its account's history: 1 is the account's first


@dataclass(frozen=True)
class MultiPostingResult:
    """Every leg of one atomic write, in order, with each member's balance after it."""

    legs: tuple[PostingResult, ...]
    replayed: bool

    @property
    def first(self) -> PostingResult:
        return self.legs[0]


class PostingEngine:
    def __init__(
        self,
        store: LedgerPort,
        policies: Policies | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.policies: Policies = policies or FixedPolicies()
        self.clock = clock
        self.sleep = sleep
        # After how many days a program's member counts as inactive (its earning rules say).
        self.inactive_days: Callable[[str], int | None] = lambda program: None

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
        return self._post(lambda moment, _balances: plan(moment), request, leg_ids, now)

    def post_seeing(
        self,
        account: str,
        plan: Callable[[datetime, StoredBalance | None], PlannedWrite],
        request: IdempotentRequest,
        leg_ids: Sequence[str],
    ) -> MultiPostingResult:
        """`post`, with the plan made from `account`'s stored balance (its tier, its activity).

        The balance is the one the write moves, read once: when it has moved, the plan is made
        again from the balance as it is now.
        """

        def seeing(moment: datetime, balances: dict[str, StoredBalance | None]) -> PlannedWrite:
            if account not in balances:
                balances[account] = self.store.get_balance(account)
            return plan(moment, balances[account])

        return self._post(seeing, request, leg_ids, None)

    def _post(
        self,
        plan: Callable[[datetime, dict[str, StoredBalance | None]], PlannedWrite],
        request: IdempotentRequest,
        leg_ids: Sequence[str],
        now: datetime | None,
    ) -> MultiPostingResult:
        balances: dict[str, StoredBalance | None] = {}

        def attempt() -> MultiPostingResult:
            try:
                planned = plan(now or self.clock(), balances)
            except (StoreUnavailable, RateLimited):
                raise
            except PointsNetError:
                # A refusal now (quote expired, link gone, points spent...) does not undo what
                # this key posted before: the earlier answer replays, or its reuse is refused.
                if replay := self.posted(leg_ids, request):
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
                raise
            except Moved:
                balances.clear()  # the plan reads them afresh; the balances may have moved too
                raise

        return self.retrying(
            attempt, "the accounts are changing too fast; retry with the same Idempotency-Key"
        )

    def retrying(self, attempt: Callable[[], T], too_fast: str) -> T:
        """Run `attempt` until it does not raise `Moved`, backing off; at most MAX_ATTEMPTS."""
        for number in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except Moved:
                self.sleep(random.uniform(0, min(0.05, 0.001 * 2**number)))
        raise Conflict(too_fast)

    def posted(
        self, leg_ids: Sequence[str], request: IdempotentRequest
    ) -> MultiPostingResult | None:
        """What this request posted before, replayed; None if it has not posted."""
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

    def _commit(
        self,
        planned: PlannedWrite,
        balances: dict[str, StoredBalance | None],
        request: IdempotentRequest,
    ) -> MultiPostingResult:
        writes: list[AccountWrite] = []
        for leg in planned.legs:
            current = balances.get(leg.account)
            delta = leg.transaction.member_delta(leg.account)
            available = current.available if current else 0
            if available + delta < 0:
                if replay := self.posted(
                    [leg.transaction.transaction_id for leg in planned.legs], request
                ):
                    return replay
                raise InsufficientPoints(
                    f"member {leg.transaction.member_id} has {available} "
                    f"{leg.transaction.program} points available, {-delta} requested"
                )
            writes.append(
                account_write(
                    self.store,
                    self.policies,
                    leg,
                    current,
                    request,
                    self.inactive_days(leg.transaction.program),
                )
            )
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
                    obligations=tuple(_obligations(planned)),
                )
            )
        except EntryExists:
            replay = self.posted([leg.transaction.transaction_id for leg in planned.legs], request)
            if replay is None:
                raise
            return replay
        for write in writes:
            log_posting(write.entry)
        return MultiPostingResult(
            legs=tuple(
                PostingResult(
                    write.entry.transaction,
                    write.entry.balance_after,
                    replayed=False,
                    number=write.entry.number,
                )
                for write in writes
            ),
            replayed=False,
        )

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


def leg_id(partner_id: str, idempotency_key: str, leg: str) -> str:
    """Ids of the second and later legs of one request (keys never contain a newline)."""
    return derived_id("txn_", partner_id, f"{idempotency_key}\n{leg}")


def _obligations(planned: PlannedWrite) -> list[Obligation]:
    """A cross-partner entry's money is recorded once, in the write that posts it."""
    return [
        Obligation(
            transaction_id=leg.transaction.transaction_id,
            kind=OBLIGATION_KINDS[leg.transaction.type],
            created_at=leg.transaction.created_at,
            terms=leg.transaction.obligation,
            account=leg.account,
        )
        for leg in planned.legs
        if leg.transaction.obligation is not None
    ]


def _signature_use(planned: PlannedWrite, request: IdempotentRequest) -> SignatureUse | None:
    """A v1 signature is remembered with what it posted; a v2 one signed its key already."""
    if request.v1_signature is None:
        return None
    return SignatureUse(
        digest=request.v1_signature.digest,
        transaction_id=planned.legs[0].transaction.transaction_id,
        valid_until=request.v1_signature.valid_until,
    )


def _replay(existing: Sequence[StoredEntry], request: IdempotentRequest) -> MultiPostingResult:
    if any(entry.fingerprint != request.fingerprint for entry in existing):
        raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
    return MultiPostingResult(
        legs=tuple(
            PostingResult(
                entry.transaction, entry.balance_after, replayed=True, number=entry.number
            )
            for entry in existing
        ),
        replayed=True,
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
