"""Opening balances: the points a partner's members bring when the partner joins the network.

Each row of an import posts one `import` transaction from `program:<code>:opening` to the
member, and opens the member's account: a member that already has an account in the program
is refused (a second row for the same member, or a member already on the network). The
transaction id derives from the import and the row, so posting a row again finds the entry
it posted and counts it, never posting twice. Rows post many to a `LedgerWrite` batch
(`LedgerPort.commit_each`): one refused row never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pointsnet.clock import utc_now
from pointsnet.errors import Conflict, PointsNetError, ValidationFailed
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.ledger.account_write import account_write
from pointsnet.ledger.accounts import member_account, opening_account
from pointsnet.ledger.engine import log_posting
from pointsnet.ledger.lots import lot_expires_at
from pointsnet.ledger.models import LotMove, Posting, Transaction, TransactionType
from pointsnet.ledger.plans import Leg, LotPlan, LotPlanKind
from pointsnet.ledger.port import BalanceMoved, EntryExists, LedgerPort, LedgerWrite
from pointsnet.ledger.tiers import month_of
from pointsnet.programs.policy import FixedPolicies, Policies, ProgramPolicy


@dataclass(frozen=True)
class OpeningRow:
    """One member's opening balance, as the import's file gives it."""

    line: int  # the row's line in its file (the header is line 1)
    member_id: str
    points: int
    reference: str  # the row's own, or `line <n>`
    fingerprint: str  # of the row's content: the same row read again has the same
    tier: str | None = None
    lots: tuple[LotMove, ...] = ()  # by expiry date, summing to points; () the policy's


@dataclass(frozen=True)
class RowOutcome:
    line: int
    member_id: str
    reference: str
    transaction_id: str | None = None  # posted (now, or by an earlier run of the import)
    error: PointsNetError | None = None  # refused

    @property
    def posted(self) -> bool:
        return self.error is None


def opening_transaction_id(partner_id: str, import_id: str, reference: str) -> str:
    return derived_id("txn_", partner_id, f"import\n{import_id}\n{reference}")


class OpeningBalances:
    def __init__(
        self,
        store: LedgerPort,
        policies: Policies | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.policies: Policies = policies or FixedPolicies()
        self.clock = clock

    def post(
        self, partner_id: str, program: str, import_id: str, rows: Sequence[OpeningRow]
    ) -> list[RowOutcome]:
        """Post each row at most once; an outcome per row, in order."""
        now = self.clock()
        policy = self.policies.policy_for(partner_id)
        outcomes: dict[int, RowOutcome] = {}
        planned: list[tuple[int, OpeningRow, str, LedgerWrite]] = []
        for index, row in enumerate(rows):
            transaction_id = opening_transaction_id(partner_id, import_id, row.reference)
            try:
                write = self._write(
                    partner_id, program, import_id, row, transaction_id, policy, now
                )
            except ValidationFailed as refused:
                outcomes[index] = _refused(row, refused)
                continue
            planned.append((index, row, transaction_id, write))
        results = self.store.commit_each([write for *_, write in planned])
        for (index, row, transaction_id, write), result in zip(planned, results, strict=True):
            outcomes[index] = self._outcome(row, transaction_id, program, result)
            if result is None:
                log_posting(write.entries[0])
        return [outcomes[index] for index in range(len(rows))]

    def _write(
        self,
        partner_id: str,
        program: str,
        import_id: str,
        row: OpeningRow,
        transaction_id: str,
        policy: ProgramPolicy,
        now: datetime,
    ) -> LedgerWrite:
        account = member_account(partner_id, row.member_id)
        transaction = Transaction(
            transaction_id=transaction_id,
            type=TransactionType.IMPORT,
            program=program,
            points=row.points,
            partner_id=partner_id,
            member_id=row.member_id,
            initiated_by=partner_id,
            reference=row.reference,
            import_id=import_id,
            created_at=now,
            postings=(
                Posting(account=opening_account(program), points=-row.points),
                Posting(account=account, points=row.points),
            ),
        )
        leg = Leg(
            transaction,
            account,
            lots=_lot_plan(row, now),
            tier_points=_tier_points(row, policy, now),
            records_tier_change=False,
        )
        request = IdempotentRequest(key=row.reference, fingerprint=row.fingerprint)
        # An opening balance opens the account: planned from no balance, it is refused when
        # one exists (the store's condition), without reading it first.
        write = account_write(self.store, self.policies, leg, None, request)
        return LedgerWrite(entries=(write.entry,), balances=(write.update,), lots=write.lots)

    @staticmethod
    def _outcome(
        row: OpeningRow, transaction_id: str, program: str, result: Exception | None
    ) -> RowOutcome:
        if result is None:
            return RowOutcome(row.line, row.member_id, row.reference, transaction_id)
        if isinstance(result, EntryExists):
            if result.existing.fingerprint == row.fingerprint:
                return RowOutcome(row.line, row.member_id, row.reference, transaction_id)
            return _refused(
                row,
                Conflict(f"reference {row.reference} is on another line of this import too"),
            )
        if isinstance(result, BalanceMoved):
            return _refused(
                row,
                Conflict(
                    f"member {row.member_id} already has a {program} account: an opening "
                    "balance opens one (is the member on another line too?)"
                ),
            )
        raise result


def _lot_plan(row: OpeningRow, now: datetime) -> LotPlan:
    if not row.lots:
        return LotPlan()  # as an earn: a lot by the program's expiry policy, if it has one
    if sum(move.points for move in row.lots) != row.points:
        raise _invalid("lots", "the lots' points must sum to points")
    if any(move.lot is not None and lot_expires_at(move.lot) <= now for move in row.lots):
        raise _invalid("lots", "a lot's expiry date must be after the import")
    return LotPlan(LotPlanKind.GIVEN, given=row.lots)


def _tier_points(row: OpeningRow, policy: ProgramPolicy, now: datetime) -> tuple[str, int]:
    """A tier is imported as its threshold earned this month: it holds for one tier window,
    then the program's rules rank the member by what it earns on the network."""
    if row.tier is None:
        return (month_of(now), 0)
    thresholds = {tier.name: tier.min_points for tier in policy.tiers}
    if row.tier not in thresholds:
        known = ", ".join(thresholds) or "none: the program has no tiers"
        raise _invalid("tier", f"unknown tier {row.tier} (the program's tiers: {known})")
    return (month_of(now), thresholds[row.tier])


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": field, "message": message}])


def _refused(row: OpeningRow, error: PointsNetError) -> RowOutcome:
    return RowOutcome(row.line, row.member_id, row.reference, error=error)
