"""Setting and showing a program's policy: what the admin API and the CLI call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import NotFound
from pointsnet.partners.models import Partner
from pointsnet.programs.policy import NO_POLICY, PolicyReader, ProgramPolicy, StoredPolicy


class PolicyWriter(PolicyReader, Protocol):
    def put_policy(self, stored: StoredPolicy) -> None: ...


class ProgramOwners(Protocol):
    def get_partner(self, partner_id: str) -> Partner | None: ...


class ProgramPolicies:
    def __init__(
        self,
        store: PolicyWriter,
        directory: ProgramOwners,
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
