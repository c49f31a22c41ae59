"""Linked accounts: one partner proposes, the other confirms, either revokes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import Conflict, Forbidden, IdempotencyKeyReused, NotFound, ValidationFailed
from pointsnet.idempotency import IdempotentRequest, derived_id
from pointsnet.ledger.accounts import member_account
from pointsnet.network.commands import ProposeLink
from pointsnet.network.models import Link, LinkParty, LinkStatus, StoredLink
from pointsnet.network.ports import AlreadyExists, NetworkPort


class LinkResult:
    def __init__(self, link: Link, replayed: bool) -> None:
        self.link = link
        self.replayed = replayed


class Links:
    def __init__(
        self,
        store: NetworkPort,
        pending_for: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.pending_for = pending_for
        self.clock = clock

    def propose(
        self, caller: Caller, command: ProposeLink, request: IdempotentRequest
    ) -> LinkResult:
        if caller.program is None:
            raise NotFound("the calling partner has no program")
        if command.partner_program == caller.program:
            raise ValidationFailed(
                "a link joins two different programs",
                details=[{"field": "partner_program", "message": "is the caller's own program"}],
            )
        other_partner = self.store.program_owner(command.partner_program)
        if other_partner is None:
            # Well formed, so not a validation_error: it names nothing that exists.
            raise NotFound(f"no program {command.partner_program} on the network")
        now = self.clock()
        link = Link(
            link_id=derived_id("lnk_", caller.partner_id, request.key),
            status=LinkStatus.PENDING,
            proposer=LinkParty(
                partner_id=caller.partner_id, program=caller.program, member_id=command.member_id
            ),
            counterparty=LinkParty(
                partner_id=other_partner,
                program=command.partner_program,
                member_id=command.partner_member_id,
            ),
            created_at=now,
            expires_at=now + self.pending_for,
        )
        own_account = member_account(caller.partner_id, command.member_id)
        if self.store.linked_account(own_account, command.partner_program) is not None:
            if replay := self._replay(link.link_id, request):
                return replay
            raise Conflict(
                f"member {command.member_id} already has an active link to "
                f"{command.partner_program}"
            )
        try:
            self.store.create_link(StoredLink(link=link, fingerprint=request.fingerprint))
        except AlreadyExists:
            if replay := self._replay(link.link_id, request):
                return replay
            raise
        return LinkResult(link, replayed=False)

    def confirm(self, caller: Caller, link_id: str, request: IdempotentRequest) -> LinkResult:
        stored = self._visible(caller, link_id)
        link = stored.link.as_of(self.clock())
        if link.proposer.partner_id == caller.partner_id:
            raise Forbidden("only the other partner may confirm a link")
        # The confirmation is remembered by the key that made it: a retry replays it.
        confirmation = derived_id("cfm_", caller.partner_id, request.key)
        if link.status != LinkStatus.PENDING and stored.confirmed_by == confirmation:
            return LinkResult(_as_confirmed(stored.link), replayed=True)
        confirmed = self.store.confirmed_link(confirmation)
        if confirmed is not None and confirmed != link_id:
            raise IdempotencyKeyReused(
                f"this Idempotency-Key already confirmed link {confirmed}, not {link_id}"
            )
        if link.status != LinkStatus.PENDING:
            raise Conflict(f"link {link_id} is {link.status}, not pending")
        confirmed_at = self.clock()
        self.store.activate_link(stored, confirmed_at, confirmation)
        active = link.model_copy(update={"status": LinkStatus.ACTIVE, "confirmed_at": confirmed_at})
        return LinkResult(active, replayed=False)

    def revoke(self, caller: Caller, link_id: str) -> Link:
        """Either side may revoke; revoking a revoked or lapsed link changes nothing."""
        stored = self._visible(caller, link_id)
        link = stored.link.as_of(self.clock())
        if link.status in (LinkStatus.REVOKED, LinkStatus.EXPIRED):
            return link
        revoked_at = self.clock()
        self.store.deactivate_link(stored, revoked_at, caller.partner_id)
        return link.model_copy(
            update={
                "status": LinkStatus.REVOKED,
                "revoked_at": revoked_at,
                "revoked_by": caller.partner_id,
            }
        )

    def get(self, caller: Caller, link_id: str) -> Link:
        return self._visible(caller, link_id).link.as_of(self.clock())

    def _visible(self, caller: Caller, link_id: str) -> StoredLink:
        stored = self.store.get_link(link_id)
        if stored is None or not stored.link.involves(caller.partner_id):
            raise NotFound(f"no link {link_id}")
        return stored

    def _replay(self, link_id: str, request: IdempotentRequest) -> LinkResult | None:
        stored = self.store.get_link(link_id)
        if stored is None:
            return None
        if stored.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request"
            )
        return LinkResult(_as_proposed(stored.link), replayed=True)


def _as_proposed(link: Link) -> Link:
    """The link as its proposal answered, whatever happened to it since: what a replay shows."""
    return link.model_copy(
        update={
            "status": LinkStatus.PENDING,
            "confirmed_at": None,
            "revoked_at": None,
            "revoked_by": None,
        }
    )


def _as_confirmed(link: Link) -> Link:
    return link.model_copy(
        update={"status": LinkStatus.ACTIVE, "revoked_at": None, "revoked_by": None}
    )
