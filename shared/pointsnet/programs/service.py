"""Setting and showing a program's policy: what the admin API and the CLI call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import NotFound
from pointsnet.programs.policy import NO_POLICY, ProgramPolicy, StoredPolicy
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.policy_store import PolicyStore


class ProgramPolicies:
    def __init__(
        self,
        store: PolicyStore,
        directory: DirectoryStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock

    def set_policy(self, caller: Caller, partner_id: str, policy: ProgramPolicy) -> StoredPolicy:
        """Replace the partner's program policy; lots already earned keep their expiry."""
        self._program_owner(partner_id)
        stored = StoredPolicy(
            partner_id=partner_id,
            policy=policy,
            updated_at=self.clock(),
            updated_by=caller.partner_id,
        )
        self.store.put_policy(stored)
        return stored

    def show_policy(self, partner_id: str) -> StoredPolicy:
        """The policy in force; a program no one has set a policy for has the default."""
        self._program_owner(partner_id)
        stored = self.store.get_policy(partner_id)
        return stored or StoredPolicy(partner_id=partner_id, policy=NO_POLICY)

    def _program_owner(self, partner_id: str) -> None:
        partner = self.directory.get_partner(partner_id)
        if partner is None or partner.program is None:
            raise NotFound(f"no partner {partner_id} with a program")


def default_program_policies() -> ProgramPolicies:
    from pointsnet.settings import get_settings

    settings = get_settings()
    return ProgramPolicies(
        PolicyStore(settings.directory_table), DirectoryStore(settings.directory_table)
    )
