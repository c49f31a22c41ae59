"""A partner's statements: its side of each settlement of a period, and nobody else's lines.

One Query of the settlement list by period, then one read per settlement listed: the cost is
the period's settlements, never the table's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field

from pointsnet.auth.caller import Caller
from pointsnet.clock import UtcTime
from pointsnet.model import Model
from pointsnet.settlement.models import (
    Period,
    Settlement,
    SettlementKind,
    SettlementStatus,
)
from pointsnet.settlement.ports import SettlementPort

# The partner's display name by id; None when the directory no longer has it.
PartnerNames = Callable[[str], "str | None"]


class Counterparty(Model):
    partner_id: str
    name: str | None = Field(description="The partner's name in the directory")


class StatementLine(Model):
    """One line of the settlement the caller is on, seen from the caller's side."""

    direction: Literal["pays", "receives"] = Field(description="What the caller does on it")
    counterparty: str = Field(description="The other partner on the line")
    program: str = Field(description="The program whose points the line pays for")
    points: int
    amount: Decimal = Field(description="Rounded to the minor unit, never negative")
    obligations: int = Field(description="Cross-partner transactions summed into this line")


class Statement(Model):
    settlement_id: str
    kind: SettlementKind
    adjusts: str | None = Field(default=None, description="For an adjustment: what it adjusts")
    period_start: date
    period_end: date
    currency: str
    status: SettlementStatus
    provisional: bool = Field(
        description="The period had not ended when it was settled: a later run may adjust it"
    )
    net_position: Decimal = Field(
        description="Positive when the caller receives this much, negative when it pays"
    )
    lines: list[StatementLine]
    counterparties: list[Counterparty] = Field(description="The other partners on its lines")
    payment_reference: str | None = None
    created_at: UtcTime
    updated_at: UtcTime


class Statements:
    def __init__(self, store: SettlementPort, names: PartnerNames) -> None:
        self.store = store
        self.names = names

    def for_partner(self, caller: Caller, period: Period) -> list[Statement]:
        """Every settlement of the period the caller is on, oldest first."""
        found = []
        for summary in self.store.summaries(None, period.period_start, period.period_end):
            settlement = self.store.get(summary.settlement_id)
            if settlement is not None and _is_on(settlement, caller.partner_id):
                found.append(self._statement(settlement, caller.partner_id))
        return found

    def _statement(self, settlement: Settlement, partner_id: str) -> Statement:
        lines = [
            StatementLine(
                direction="pays" if line.payer == partner_id else "receives",
                counterparty=line.payee if line.payer == partner_id else line.payer,
                program=line.program,
                points=line.points,
                amount=line.amount,
                obligations=line.obligations,
            )
            for line in settlement.lines
            if partner_id in (line.payer, line.payee)
        ]
        net = sum(
            (p.amount for p in settlement.net_positions if p.partner_id == partner_id),
            Decimal("0"),
        )
        others = sorted({line.counterparty for line in lines})
        return Statement(
            settlement_id=settlement.settlement_id,
            kind=settlement.kind,
            adjusts=settlement.adjusts,
            period_start=settlement.period_start,
            period_end=settlement.period_end,
            currency=settlement.currency,
            status=settlement.status,
            provisional=settlement.provisional,
            net_position=net,
            lines=lines,
            counterparties=[Counterparty(partner_id=p, name=self.names(p)) for p in others],
            payment_reference=settlement.payment_reference,
            created_at=settlement.created_at,
            updated_at=settlement.updated_at,
        )


def _is_on(settlement: Settlement, partner_id: str) -> bool:
    return any(partner_id in (line.payer, line.payee) for line in settlement.lines) or any(
        position.partner_id == partner_id for position in settlement.net_positions
    )


__all__ = ["Counterparty", "Statement", "StatementLine", "Statements"]
