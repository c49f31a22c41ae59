"""Settlement arithmetic: lines, bilateral netting and net positions, exact to the minor unit.

Each line (ordered pair payer -> payee, and program) sums its obligations exactly and rounds
once, half-even, to the currency's minor unit. Netting and net positions are sums of the
rounded line amounts, so they sum to exactly zero and can be recomputed from the lines; the
difference between the exact and the rounded totals is the rounding residual, shown apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import Field

from pointsnet.ledger.models import ObligationTerms
from pointsnet.model import Model
from pointsnet.settlement.models import (
    BilateralNet,
    NetPosition,
    RoundingResidual,
    SettlementLine,
)
from pointsnet.settlement.money import ROUNDING_RULE, round_money, zero


class LineTotal(Model):
    """The running, unrounded total of one line while a run reads the period."""

    payer: str
    payee: str
    program: str
    points: int = 0
    exact_amount: Decimal = Decimal(0)
    obligations: int = 0
    # The distinct prices per point summed in, lowest first: a few at most (price changes).
    unit_prices: list[Decimal] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return line_key(self.payer, self.payee, self.program)


def line_key(payer: str, payee: str, program: str) -> str:
    # Partner ids and program codes never contain a newline.
    return f"{payer}\n{payee}\n{program}"


class LineTotals(Model):
    """Every line's running total, keyed by `line_key`: small (pairs x programs), so kept whole."""

    lines: dict[str, LineTotal] = Field(default_factory=dict)

    def add(self, terms: ObligationTerms) -> None:
        key = line_key(terms.payer, terms.payee, terms.program)
        total = self.lines.get(key)
        if total is None:
            total = self.lines[key] = LineTotal(
                payer=terms.payer, payee=terms.payee, program=terms.program
            )
        total.points += terms.points
        total.exact_amount += terms.amount
        total.obligations += 1
        total.unit_prices = merged_prices(total.unit_prices, [terms.unit_price])

    def merge(self, other: LineTotals) -> None:
        """Add another part of the run's totals (a shard's)."""
        for key, part in other.lines.items():
            total = self.lines.get(key)
            if total is None:
                self.lines[key] = part.model_copy()
                continue
            total.points += part.points
            total.exact_amount += part.exact_amount
            total.obligations += part.obligations
            total.unit_prices = merged_prices(total.unit_prices, part.unit_prices)


def merged_prices(*prices: Iterable[Decimal]) -> list[Decimal]:
    """Distinct prices, lowest first; 0.0025 and 0.00250 are one price."""
    distinct: dict[Decimal, Decimal] = {}
    for group in prices:
        for price in group:
            distinct.setdefault(price.normalize(), price)
    return [distinct[key] for key in sorted(distinct)]


@dataclass(frozen=True)
class Figures:
    lines: list[SettlementLine]
    bilateral: list[BilateralNet]
    net_positions: list[NetPosition]
    rounding: RoundingResidual


def settle_lines(totals: Iterable[LineTotal], currency: str) -> list[SettlementLine]:
    """Round each line once; lines come out ordered by payer, payee and program."""
    lines = []
    for total in sorted(totals, key=lambda item: (item.payer, item.payee, item.program)):
        amount = round_money(total.exact_amount, currency)
        lines.append(
            SettlementLine(
                payer=total.payer,
                payee=total.payee,
                program=total.program,
                points=total.points,
                exact_amount=total.exact_amount,
                amount=amount,
                rounding=amount - total.exact_amount,
                obligations=total.obligations,
                unit_prices=total.unit_prices,
            )
        )
    return lines


def figures_of(lines: Sequence[SettlementLine], currency: str) -> Figures:
    return Figures(
        lines=list(lines),
        bilateral=bilateral_netting(lines, currency),
        net_positions=net_positions(lines, currency),
        rounding=rounding_residual(lines, currency),
    )


def bilateral_netting(lines: Iterable[SettlementLine], currency: str) -> list[BilateralNet]:
    """One payment per unordered pair: what the first owes the second across programs, netted."""
    owed: dict[tuple[str, str], Decimal] = defaultdict(lambda: zero(currency))
    for line in lines:
        first, second = sorted((line.payer, line.payee))
        # Positive: `first` owes `second`.
        owed[(first, second)] += line.amount if line.payer == first else -line.amount
    netted = []
    for (first, second), amount in sorted(owed.items()):
        payer, payee = (first, second) if amount >= 0 else (second, first)
        netted.append(BilateralNet(payer=payer, payee=payee, amount=abs(amount)))
    return netted


def net_positions(lines: Iterable[SettlementLine], currency: str) -> list[NetPosition]:
    """Each partner's position across every line: what it receives minus what it pays."""
    positions: dict[str, Decimal] = defaultdict(lambda: zero(currency))
    for line in lines:
        positions[line.payee] += line.amount
        positions[line.payer] -= line.amount
    return [
        NetPosition(partner_id=partner_id, amount=amount)
        for partner_id, amount in sorted(positions.items())
    ]


def rounding_residual(lines: Iterable[SettlementLine], currency: str) -> RoundingResidual:
    exact_total = Decimal(0)
    settled_total = zero(currency)
    for line in lines:
        exact_total += line.exact_amount
        settled_total += line.amount
    return RoundingResidual(
        rule=ROUNDING_RULE,
        exact_total=exact_total,
        settled_total=settled_total,
        residual=settled_total - exact_total,
    )


def difference(
    current: Iterable[SettlementLine], settled: Iterable[SettlementLine]
) -> list[SettlementLine]:
    """`current` minus what `settled` lines already cover; lines with nothing left are dropped.

    Amounts subtract the rounded figures already settled, so an adjustment plus what was
    settled before equals the current figures to the minor unit. A line's prices are those of
    the current line: the prices in force over the period.
    """
    remaining: dict[tuple[str, str, str], _Delta] = {}
    for sign, lines in ((1, current), (-1, settled)):
        for line in lines:
            delta = remaining.setdefault((line.payer, line.payee, line.program), _Delta())
            delta.points += sign * line.points
            delta.exact_amount += sign * line.exact_amount
            delta.amount += sign * line.amount
            delta.obligations += sign * line.obligations
            if sign > 0:
                delta.unit_prices = line.unit_prices
    return [
        SettlementLine(
            payer=payer,
            payee=payee,
            program=program,
            points=delta.points,
            exact_amount=delta.exact_amount,
            amount=delta.amount,
            rounding=delta.amount - delta.exact_amount,
            obligations=delta.obligations,
            unit_prices=delta.unit_prices,
        )
        for (payer, payee, program), delta in sorted(remaining.items())
        if delta.points or delta.exact_amount or delta.amount
    ]


@dataclass
class _Delta:
    points: int = 0
    exact_amount: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    obligations: int = 0
    unit_prices: list[Decimal] = field(default_factory=list)
