"""What cross-partner points cost: the money side of earns and exchanges."""

from __future__ import annotations

from decimal import Decimal

from pointsnet.errors import Conflict
from pointsnet.ledger.models import ObligationTerms
from pointsnet.network.models import LinkedAccount, Rate
from pointsnet.network.ports import NetworkPort, PartnerLookup
from pointsnet.partners.models import Partner


class Pricing:
    def __init__(self, network: NetworkPort, directory: PartnerLookup) -> None:
        self.network = network
        self.directory = directory

    def cross_partner_earn(self, payer: str, target: LinkedAccount, points: int) -> ObligationTerms:
        """The earning partner pays the program's owner its point value for each point."""
        owner = self._partner(target.partner_id)
        return ObligationTerms(
            payer=payer,
            payee=owner.partner_id,
            program=target.program,
            points=points,
            unit_price=_point_value(owner),
            currency=owner.currency,
        )

    def exchange(
        self,
        source: LinkedAccount,
        destination: LinkedAccount,
        rate: Rate,
        points_out: int,
        points_in: int,
    ) -> ObligationTerms:
        """The program the points leave pays the program they enter.

        By default for each point received, at the destination's point value;
        when the pair has its own price, for each point given up at that price.
        """
        payer = self._partner(source.partner_id)
        payee = self._partner(destination.partner_id)
        if payer.currency != payee.currency:
            raise Conflict("the two programs settle in different currencies")
        if rate.price is not None:
            program, points, unit_price = source.program, points_out, rate.price
        else:
            program, points, unit_price = destination.program, points_in, _point_value(payee)
        return ObligationTerms(
            payer=payer.partner_id,
            payee=payee.partner_id,
            program=program,
            points=points,
            unit_price=unit_price,
            currency=payer.currency,
        )

    def _partner(self, partner_id: str) -> Partner:
        partner = self.directory.get_partner(partner_id)
        if partner is None:
            raise Conflict(f"partner {partner_id} is not on the network")
        return partner


def _point_value(partner: Partner) -> Decimal:
    if partner.point_value is None:
        raise Conflict(f"partner {partner.partner_id} has no point value")
    return partner.point_value
