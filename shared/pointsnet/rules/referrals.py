"""Referrals: a member refers another of the same partner; the program's `referral` rule
credits both, once, when the referred member's first earn posts.

A referral is for a member with no history yet: its first earn is the first entry on its
account, so the ledger knows it is one without reading anything (`PostingResult.number`).
Only then is the referral read. The two bonuses are one write of two transactions whose ids
derive from the referral, with the referral moving from `pending` to `credited` in the same
write: a crash before it is finished by the earn's retry (which replays the earn and follows
it up again), and no bonus is ever paid twice. Each bonus is an `earn` its partner may reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from pydantic import ConfigDict, Field

from pointsnet.auth.caller import Caller
from pointsnet.clock import UtcTime, utc_now
from pointsnet.errors import Conflict, ValidationFailed
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.ledger.accounts import issued_account, member_account
from pointsnet.ledger.commands import MEMBER_ID_PATTERN
from pointsnet.ledger.engine import PostingEngine, PostingResult
from pointsnet.ledger.models import Posting, RuleShare, Transaction, TransactionType
from pointsnet.ledger.plans import Leg, PlannedWrite
from pointsnet.ledger.port import Guard, GuardFailed
from pointsnet.ledger.views import own_program
from pointsnet.model import Model
from pointsnet.rules.book import RuleBook
from pointsnet.strict_json import COMMAND_CONFIG


class ReferralStatus(StrEnum):
    PENDING = "pending"
    CREDITED = "credited"


class ReferMember(Model):
    """The body of `POST /v1/members/{member_id}/referrals`."""

    model_config = COMMAND_CONFIG

    referred_member_id: str = Field(
        pattern=MEMBER_ID_PATTERN, description="The member referred: the same partner's member"
    )


class Referral(Model):
    model_config = ConfigDict(frozen=True)

    referral_id: str
    program: str
    partner_id: str
    referrer_member_id: str
    referred_member_id: str
    status: ReferralStatus
    created_at: UtcTime
    credited_at: UtcTime | None = None
    transaction_ids: tuple[str, ...] = Field(
        default=(), description="Once credited: the referrer's bonus, then the referred's"
    )

    @property
    def referred_account(self) -> str:
        return member_account(self.partner_id, self.referred_member_id)


@dataclass(frozen=True)
class ReferralCredit(Guard):
    """The referral is still pending when its bonuses commit, and is credited by them."""

    name: ClassVar[str] = "referral"
    referral: Referral
    at: datetime
    transaction_ids: tuple[str, str]


class ReferralExists(Exception):
    def __init__(self, existing: Referral, same_request: bool) -> None:
        super().__init__(existing.referral_id)
        self.existing = existing
        self.same_request = same_request


class ReferralPort(Protocol):
    def create_referral(self, referral: Referral, request: IdempotentRequest) -> None:
        """Record it unless the member was referred; `ReferralExists` says by which request."""
        ...

    def get_referral(self, referred_account: str) -> Referral | None: ...

    def has_history(self, account: str) -> bool:
        """Whether the account has any entry."""
        ...


@dataclass(frozen=True)
class ReferralResult:
    referral: Referral
    replayed: bool


class Referrals:
    def __init__(
        self,
        store: ReferralPort,
        engine: PostingEngine,
        book: RuleBook,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.engine = engine
        self.book = book
        self.clock = clock

    def refer(
        self, caller: Caller, member_id: str, command: ReferMember, request: IdempotentRequest
    ) -> ReferralResult:
        program = own_program(caller)
        referred = command.referred_member_id
        if referred == member_id:
            raise ValidationFailed(
                "a member cannot refer itself",
                details=[{"field": "referred_member_id", "message": "is the referrer"}],
            )
        if self.book.rules_for(program).referral is None:
            raise ValidationFailed(
                f"program {program} has no referral rule",
                details=[{"field": "referred_member_id", "message": "no referral rule"}],
            )
        referral = Referral(
            referral_id=derived_id("ref_", caller.partner_id, request.key),
            program=program,
            partner_id=caller.partner_id,
            referrer_member_id=member_id,
            referred_member_id=referred,
            status=ReferralStatus.PENDING,
            created_at=self.clock(),
        )
        try:
            if self.store.has_history(referral.referred_account):
                raise Conflict(f"member {referred} has earned already: refer new members only")
            self.store.create_referral(referral, request)
        except ReferralExists as exists:
            if exists.same_request:
                return ReferralResult(exists.existing, replayed=True)
            raise Conflict(f"member {referred} was referred already") from exists
        return ReferralResult(referral, replayed=False)

    def after_earn(self, result: PostingResult) -> None:
        """Credit the referral of a member whose first earn this is (the ledger's follow-up)."""
        earn = result.transaction
        if result.number != 1 or earn.type != TransactionType.EARN or earn.referral_id:
            return
        referral = self.store.get_referral(member_account(earn.partner_id, earn.member_id))
        if referral is None or referral.program != earn.program:
            return
        ids = (
            derived_id("txn_", referral.partner_id, f"referral\n{referral.referral_id}\nreferrer"),
            derived_id("txn_", referral.partner_id, f"referral\n{referral.referral_id}\nreferred"),
        )
        request = IdempotentRequest(
            key=f"referral\n{referral.referral_id}", fingerprint=f"referral:{referral.referral_id}"
        )

        def plan(now: datetime) -> PlannedWrite:
            if referral.status != ReferralStatus.PENDING:
                raise Conflict(f"referral {referral.referral_id} was credited")
            stored = self.book.rules_for(referral.program)
            rule = stored.referral
            if rule is None:
                raise Conflict(f"program {referral.program} has no referral rule now")
            bonuses = (
                (ids[0], referral.referrer_member_id, rule.referrer_points),
                (ids[1], referral.referred_member_id, rule.referred_points),
            )
            legs = tuple(
                Leg(
                    _bonus(referral, bonus_id, member, points, rule.rule_id, stored.version, now),
                    member_account(referral.partner_id, member),
                )
                for bonus_id, member, points in bonuses
            )
            return PlannedWrite(legs=legs, guards=(ReferralCredit(referral, now, ids),))

        try:
            self.engine.post(plan, request, ids)
        except (GuardFailed, Conflict):
            return  # credited by another request meanwhile, or no rule to credit by


def _bonus(
    referral: Referral,
    transaction_id: str,
    member_id: str,
    points: int,
    rule_id: str,
    version: int,
    now: datetime,
) -> Transaction:
    account = member_account(referral.partner_id, member_id)
    return Transaction(
        transaction_id=transaction_id,
        type=TransactionType.EARN,
        program=referral.program,
        points=points,
        partner_id=referral.partner_id,
        member_id=member_id,
        # The referring partner made the referral: its bonuses are its to reverse.
        initiated_by=referral.partner_id,
        reference=f"referral:{referral.referral_id}",
        description="referral bonus",
        referral_id=referral.referral_id,
        rules=(RuleShare(rule_id=rule_id, points=points),),
        rules_version=version,
        created_at=now,
        postings=(
            Posting(account=issued_account(referral.program), points=-points),
            Posting(account=account, points=points),
        ),
    )
