"""A settlement as finance reads it: names beside ids, currencies beside amounts, gross per
direction and the cash that actually moves, each line's price and obligations, one remittance
per payer, and its links to the settlements it adjusts or that adjust it.

`SettlementReport` is the JSON report; the CSV and HTML reports are rendered from it. It holds
every field of the settlement as the API shows it, and adds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from pydantic import ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.model import Model
from pointsnet.settlement.line_detail import DetailStatus, LineDetail, ObligationDetail
from pointsnet.settlement.models import (
    BilateralNet,
    NetPosition,
    Settlement,
    SettlementLine,
    SettlementStatus,
)
from pointsnet.settlement.money import zero

DETAIL_QUERY = "format=csv&detail=lines"


class PartnerName(Model):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    name: str | None = Field(description="The partner's name in the directory; null if gone")


class ReportLine(SettlementLine):
    """A line with its names, currency, and the obligations and transactions behind it."""

    payer_name: str | None
    payee_name: str | None
    currency: str
    obligation_ids: list[str] | None = Field(
        description="The obligations summed into the line, oldest first; null when the run "
        "recorded no detail (see `detail.status`)"
    )
    transaction_ids: list[str] | None = Field(
        description="The transaction of each obligation, in the same order"
    )


class ReportBilateral(BilateralNet):
    """A pair's one payment, with the gross each way it nets."""

    payer_name: str | None
    payee_name: str | None
    currency: str
    gross_payer_to_payee: Decimal = Field(description="What the payer owes the payee, gross")
    gross_payee_to_payer: Decimal = Field(description="What the payee owes the payer, gross")


class ReportNetPosition(NetPosition):
    name: str | None
    currency: str


class DirectionTotal(Model):
    """What one partner owes another across every program, before netting."""

    model_config = ConfigDict(frozen=True)

    payer: str
    payer_name: str | None
    payee: str
    payee_name: str | None
    amount: Decimal
    currency: str
    lines: int
    obligations: int


class Cash(Model):
    """Gross owed per direction, and what moves once each pair is netted to one payment."""

    model_config = ConfigDict(frozen=True)

    currency: str
    gross_by_direction: list[DirectionTotal]
    net_cash_moving: Decimal = Field(
        description="The sum of the bilateral payments: the money that changes hands"
    )
    payments: int = Field(description="Bilateral payments with something to pay")


class RemittancePayment(Model):
    model_config = ConfigDict(frozen=True)

    payee: str
    payee_name: str | None
    amount: Decimal
    currency: str


class Remittance(Model):
    """Everything one payer pays under the settlement, and how it was paid."""

    model_config = ConfigDict(frozen=True)

    payer: str
    payer_name: str | None
    currency: str
    total: Decimal
    payments: list[RemittancePayment]
    paid: bool
    payment_reference: str | None = Field(description="Once the settlement is marked paid")
    paid_at: UtcTime | None = None


class DetailLink(Model):
    model_config = ConfigDict(frozen=True)

    status: DetailStatus = Field(
        description="recorded; not_recorded (a run from before detail was kept); incomplete "
        "(some of the run's detail is missing: run the period again)"
    )
    obligations: int = Field(description="Obligations behind the lines")
    csv: str = Field(description="Where the line detail CSV is: one row per obligation")


class SettlementReport(Settlement):
    """The JSON report: the settlement, each part named and priced, and what finance pays."""

    lines: list[ReportLine]  # type: ignore[assignment]
    bilateral: list[ReportBilateral]  # type: ignore[assignment]
    net_positions: list[ReportNetPosition]  # type: ignore[assignment]
    partners: list[PartnerName]
    cash: Cash
    remittances: list[Remittance]
    detail: DetailLink


def build_report(
    settlement: Settlement, names: Mapping[str, str | None], detail: LineDetail
) -> SettlementReport:
    currency = settlement.currency
    lines = [_line(line, names, currency, detail) for line in settlement.lines]
    gross = gross_by_direction(settlement, names)
    owed = {(item.payer, item.payee): item.amount for item in gross}
    bilateral = [
        ReportBilateral(
            **net.model_dump(),
            payer_name=names.get(net.payer),
            payee_name=names.get(net.payee),
            currency=currency,
            gross_payer_to_payee=owed.get((net.payer, net.payee), zero(currency)),
            gross_payee_to_payer=owed.get((net.payee, net.payer), zero(currency)),
        )
        for net in settlement.bilateral
    ]
    paying = [net for net in bilateral if net.amount]
    cash = Cash(
        currency=currency,
        gross_by_direction=gross,
        net_cash_moving=sum((net.amount for net in bilateral), zero(currency)),
        payments=len(paying),
    )
    partners = sorted(
        {line.payer for line in settlement.lines}
        | {line.payee for line in settlement.lines}
        | {position.partner_id for position in settlement.net_positions}
    )
    return SettlementReport(
        **(
            settlement.model_dump()
            | {
                "lines": lines,
                "bilateral": bilateral,
                "net_positions": [
                    ReportNetPosition(
                        **position.model_dump(),
                        name=names.get(position.partner_id),
                        currency=currency,
                    )
                    for position in settlement.net_positions
                ],
            }
        ),
        partners=[PartnerName(partner_id=partner, name=names.get(partner)) for partner in partners],
        cash=cash,
        remittances=remittances(settlement, paying),
        detail=DetailLink(
            status=detail.status,
            obligations=sum(line.obligations for line in settlement.lines),
            csv=f"/v1/settlements/{settlement.settlement_id}/report?{DETAIL_QUERY}",
        ),
    )


def _line(
    line: SettlementLine, names: Mapping[str, str | None], currency: str, detail: LineDetail
) -> ReportLine:
    rows: list[ObligationDetail] | None = (
        detail.rows.get((line.payer, line.payee, line.program), []) if detail.recorded else None
    )
    return ReportLine(
        **line.model_dump(),
        payer_name=names.get(line.payer),
        payee_name=names.get(line.payee),
        currency=currency,
        obligation_ids=None if rows is None else [row.obligation_id for row in rows],
        transaction_ids=None if rows is None else [row.transaction_id for row in rows],
    )


def gross_by_direction(
    settlement: Settlement, names: Mapping[str, str | None]
) -> list[DirectionTotal]:
    """Each ordered pair's lines added up across programs: what one owes the other, gross."""
    grouped: dict[tuple[str, str], list[SettlementLine]] = defaultdict(list)
    for line in settlement.lines:
        grouped[(line.payer, line.payee)].append(line)
    return [
        DirectionTotal(
            payer=payer,
            payer_name=names.get(payer),
            payee=payee,
            payee_name=names.get(payee),
            amount=sum((line.amount for line in lines), zero(settlement.currency)),
            currency=settlement.currency,
            lines=len(lines),
            obligations=sum(line.obligations for line in lines),
        )
        for (payer, payee), lines in sorted(grouped.items())
    ]


def remittances(settlement: Settlement, paying: list[ReportBilateral]) -> list[Remittance]:
    """One per payer: the pairs' net payments it makes, with the payment once recorded."""
    paid = settlement.status == SettlementStatus.PAID
    paid_at = paid_time(settlement) if paid else None
    by_payer: dict[str, list[ReportBilateral]] = defaultdict(list)
    for net in paying:
        by_payer[net.payer].append(net)
    return [
        Remittance(
            payer=payer,
            payer_name=nets[0].payer_name,
            currency=settlement.currency,
            total=sum((net.amount for net in nets), zero(settlement.currency)),
            payments=[
                RemittancePayment(
                    payee=net.payee,
                    payee_name=net.payee_name,
                    amount=net.amount,
                    currency=settlement.currency,
                )
                for net in nets
            ],
            paid=paid,
            payment_reference=settlement.payment_reference if paid else None,
            paid_at=paid_at,
        )
        for payer, nets in sorted(by_payer.items())
    ]


def paid_time(settlement: Settlement) -> datetime | None:
    marked = [entry.at for entry in settlement.audit if entry.action == "mark_paid"]
    return marked[-1] if marked else None
