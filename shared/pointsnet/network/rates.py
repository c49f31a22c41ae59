"""Exchange rates between programs, effective-dated: earlier rates stay in history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import NotFound, ValidationFailed
from pointsnet.network.commands import SetRate
from pointsnet.network.models import Rate
from pointsnet.network.ports import NetworkPort


class Rates:
    def __init__(self, store: NetworkPort, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock

    def set_rate(
        self, caller: Caller, from_program: str, to_program: str, command: SetRate
    ) -> Rate:
        for field, program in (("from", from_program), ("to", to_program)):
            if self.store.program_owner(program) is None:
                # Well formed, so not a validation_error: the path names nothing that exists.
                raise NotFound(f"no program {program} on the network ({field})")
        if from_program == to_program:
            raise ValidationFailed(
                "a rate joins two different programs",
                details=[{"field": "to", "message": "same as from"}],
            )
        rate = Rate(
            from_program=from_program,
            to_program=to_program,
            rate=command.rate,
            price=command.price,
            effective_from=command.effective_from or self.clock(),
            set_by=caller.key_id,
        )
        self.store.put_rate(rate)
        return rate

    def rate_in_force(self, from_program: str, to_program: str) -> Rate:
        rate = self.store.rate_in_force(from_program, to_program, self.clock())
        if rate is None:
            raise NotFound(f"no rate from {from_program} to {to_program}")
        return rate
