"""Setting, showing and previewing a program's earning rules: what the programs API calls.

A partner manages its own program's rules, an admin any program's; any other program is
`404` to a partner, as if it did not exist. A new set gets the next version, and the
transactions it prices record that version.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import Field

from pointsnet.auth.caller import Caller, Role
from pointsnet.clock import utc_now
from pointsnet.errors import Forbidden, NotFound, ValidationFailed
from pointsnet.ledger.commands import MEMBER_ID_PATTERN, EarnCommand, Reference
from pointsnet.ledger.earning import PricedEarn
from pointsnet.ledger.holds import EarnTarget
from pointsnet.ledger.service import Ledger
from pointsnet.rules.models import RuleSet, StoredRuleSet, unknown_tiers
from pointsnet.rules.ports import RuleSetWriter


class PreviewCommand(EarnCommand):
    """An earn body, for a member: what it would give, posting nothing."""

    member_id: str = Field(pattern=MEMBER_ID_PATTERN, description="The program's member id")
    reference: Reference | None = None  # type: ignore[assignment]


class EarningRules:
    def __init__(
        self,
        store: RuleSetWriter,
        ledger: Ledger,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.clock = clock

    def set_rules(self, caller: Caller, program: str, rule_set: RuleSet) -> StoredRuleSet:
        """Replace the whole set at once; earns priced before keep the version they had."""
        owner = self._owner(caller, program)
        tiers = [tier.name for tier in self.ledger.policies.policy_for(owner).tiers]
        if details := unknown_tiers(rule_set, tiers):
            raise ValidationFailed("a rule names a tier the program does not have", details=details)
        current = self.store.get_rules(program) or StoredRuleSet.empty(program)
        stored = StoredRuleSet(
            program=program,
            version=current.version + 1,
            rules=rule_set.rules,
            updated_at=self.clock(),
            updated_by=caller.partner_id,
        )
        self.store.put_rules(stored)
        return stored

    def show_rules(self, caller: Caller, program: str) -> StoredRuleSet:
        self._owner(caller, program)
        return self.store.get_rules(program) or StoredRuleSet.empty(program)

    def preview(self, caller: Caller, program: str, command: PreviewCommand) -> PricedEarn:
        """What the earn would give the member now, by the set in force; nothing is written."""
        owner = self._owner(caller, program)
        target = EarnTarget(partner_id=owner, member_id=command.member_id, program=program)
        current = self.ledger.store.get_balance(target.account)
        return self.ledger.price(target, command, current, self.clock())

    def _owner(self, caller: Caller, program: str) -> str:
        if caller.role == Role.FINANCE:
            raise Forbidden("a finance key may not manage earning rules")
        if caller.role == Role.PARTNER and caller.program != program:
            raise NotFound(f"no program {program}")
        owner = self.store.program_owner(program)
        if owner is None:
            raise NotFound(f"no program {program}")
        return owner
