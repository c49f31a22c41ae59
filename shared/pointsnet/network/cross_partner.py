"""Earning across programs: a partner credits its member's linked account in another program.

The earning partner owes the program's owner for those points (`Pricing`), recorded with the
entry; the link must still be active when the write commits. An earn in the partner's own
program is the ledger's alone. A member's view here also shows the member's active links.
"""

from __future__ import annotations

from dataclasses import dataclass

from pointsnet.auth.caller import Caller
from pointsnet.errors import NotLinked
from pointsnet.idempotency import IdempotentRequest, transaction_id_for
from pointsnet.ledger.accounts import member_account
from pointsnet.ledger.commands import EarnCommand
from pointsnet.ledger.engine import PostingResult
from pointsnet.ledger.holds import EarnTarget
from pointsnet.ledger.service import Ledger
from pointsnet.ledger.views import MemberView, own_program
from pointsnet.network.guards import LinkActive
from pointsnet.network.models import LinkedAccount
from pointsnet.network.ports import NetworkPort
from pointsnet.network.pricing import Pricing


@dataclass(frozen=True)
class LinkedMemberView:
    member: MemberView
    links: tuple[LinkedAccount, ...]


class CrossPartnerLedger:
    def __init__(self, ledger: Ledger, network: NetworkPort, pricing: Pricing) -> None:
        self.ledger = ledger
        self.network = network
        self.pricing = pricing

    def earn(
        self, caller: Caller, member_id: str, command: EarnCommand, request: IdempotentRequest
    ) -> PostingResult:
        own = own_program(caller)
        program = command.program or own
        if program == own:
            return self.ledger.earn(caller, member_id, command, request)
        linked = self.network.linked_account(member_account(caller.partner_id, member_id), program)
        if linked is None:
            # A retry of an earn that posted replays it, though the link has gone since.
            request_id = transaction_id_for(caller.partner_id, request.key)
            if replay := self.ledger.engine.posted((request_id,), request):
                return replay.first
            raise NotLinked(f"member {member_id} has no active link to program {program}")
        # A hold's price is fixed when it is placed, owed when it is captured. The terms are
        # per point: the earn's points may be the linked program's rules' to compute.
        target = EarnTarget(
            partner_id=linked.partner_id,
            member_id=linked.member_id,
            program=linked.program,
            terms=self.pricing.cross_partner_earn(caller.partner_id, linked, 1),
            guards=(LinkActive(linked.link_id),),
        )
        return self.ledger.earn_into(caller, target, command, request)

    def member(self, caller: Caller, member_id: str) -> LinkedMemberView:
        view = self.ledger.views.member(caller, member_id)
        account = member_account(caller.partner_id, member_id)
        return LinkedMemberView(view, tuple(self.network.linked_accounts(account)))
