"""A period's metrics from its stored days (and the previous period's, for retention): every
formula is here, once, with its rounding.

Sums are exact: points are integers, `spend` and `liability` exact Decimals. Ratios are
rounded half-even to 4 places and money half-even to the currency's minor unit (2 places for
USD), at the end, each from exact inputs; `lifetime_value` alone is computed from the figures
as shown (rounded), so that a reader can reproduce it from the response.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from pointsnet.metrics.members import MemberSet, overlap, union
from pointsnet.metrics.models import DayFigures, PeriodMetrics, ProgramInfo
from pointsnet.settlement.money import round_money

RATIO_PLACES = Decimal("0.0001")
FORMULAS: dict[str, str] = {
    "points_outstanding": "outstanding_end of the period's last computed day: the day before's "
    "plus the day's net change to members' available + pending, from 0 at outstanding_since",
    "liability": "points_outstanding x point_value, exact",
    "breakage": "points_expired / points_issued, half-even to 4 places; null if issued is 0",
    "retention": "|active in the previous period and in this one| / |active in the previous "
    "period|, half-even to 4 places; null if none were active then",
    "purchase_frequency": "purchases / distinct purchasing members, half-even to 4 places",
    "average_order_value": "spend / purchases, half-even to the currency's minor unit",
    "lifetime_value": "average_order_value x purchase_frequency / (1 - retention), from the "
    "rounded figures, half-even to the currency's minor unit; null if retention is null or 1",
}


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of equal length that ends the day before `start`."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal:
    with localcontext() as context:
        context.prec = 34
        return (Decimal(numerator) / Decimal(denominator)).quantize(
            RATIO_PLACES, rounding=ROUND_HALF_EVEN
        )


def liability(outstanding: int | None, point_value: Decimal | None) -> Decimal | None:
    """What the program owes its members for their points: points_outstanding x point_value."""
    if outstanding is None or point_value is None:
        return None
    return outstanding * point_value


def breakage(expired: int, issued: int) -> Decimal | None:
    """The share of points issued that expired unspent: points_expired / points_issued."""
    return _ratio(expired, issued) if issued else None


def retention(previous: MemberSet, current: MemberSet) -> Decimal | None:
    """Members active in the previous period who are active again in this one, over the
    members active in the previous period."""
    before = previous.count()
    return _ratio(overlap(previous, current), before) if before else None


def purchase_frequency(purchases: int, purchasers: int) -> Decimal | None:
    """Purchases (earns with an amount) per member who made one."""
    return _ratio(purchases, purchasers) if purchasers else None


def average_order_value(spend: Decimal, purchases: int, currency: str) -> Decimal | None:
    """The amount of the average purchase: spend / purchases."""
    if not purchases:
        return None
    with localcontext() as context:
        context.prec = 34
        return round_money(spend / purchases, currency)


def lifetime_value(
    order_value: Decimal | None,
    frequency: Decimal | None,
    kept: Decimal | None,
    currency: str,
) -> Decimal | None:
    """What a purchasing member is worth over their life: average_order_value x
    purchase_frequency / (1 - retention), a member staying on for 1 / (1 - retention)
    periods."""
    if order_value is None or frequency is None or kept is None or kept >= 1:
        return None
    with localcontext() as context:
        context.prec = 34
        return round_money(order_value * frequency / (1 - kept), currency)


def period_metrics(
    info: ProgramInfo,
    start: date,
    end: date,
    days: Sequence[DayFigures],
    previous: Sequence[DayFigures],
    currency: str,
) -> PeriodMetrics:
    """`days`: the stored days of start..end; `previous`: those of the period before."""
    inside = sorted((day for day in days if start <= day.day <= end), key=lambda day: day.day)
    before_start, before_end = previous_period(start, end)
    before = [day for day in previous if before_start <= day.day <= before_end]
    active = union(day.active for day in inside)
    purchasers = union(day.purchasers for day in inside)
    active_before = union(day.active for day in before)
    last = inside[-1] if inside else None
    outstanding = last.outstanding_end if last else None
    issued = sum(day.points_issued for day in inside)
    expired = sum(day.points_expired for day in inside)
    purchases = sum(day.purchases for day in inside)
    spend = sum((day.spend for day in inside), Decimal(0))
    kept = retention(active_before, active)
    frequency = purchase_frequency(purchases, purchasers.count())
    order_value = average_order_value(spend, purchases, currency)
    computed = {day.day for day in inside}
    every_day = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    stamps = [day.computed_at for day in inside if day.computed_at is not None]
    return PeriodMetrics(
        program=info.program,
        period_start=start,
        period_end=end,
        currency=currency,
        point_value=info.point_value,
        points_issued=issued,
        points_redeemed=sum(day.points_redeemed for day in inside),
        points_expired=expired,
        points_exchanged_in=sum(day.points_exchanged_in for day in inside),
        points_exchanged_out=sum(day.points_exchanged_out for day in inside),
        points_outstanding=outstanding,
        outstanding_as_of=last.day if last else None,
        outstanding_since=last.outstanding_since if last else None,
        liability=liability(outstanding, info.point_value),
        breakage=breakage(expired, issued),
        active_members=active.count(),
        new_members=sum(day.new_members for day in inside),
        retention=kept,
        previous_period_start=before_start,
        previous_period_end=before_end,
        purchase_frequency=frequency,
        average_order_value=order_value,
        lifetime_value=lifetime_value(order_value, frequency, kept, currency),
        purchases=purchases,
        spend=spend,
        days_computed=len(computed),
        days_missing=[day for day in every_day if day not in computed],
        previous_days_computed=len({day.day for day in before}),
        estimated=any(members.estimated for members in (active, purchasers, active_before)),
        formulas=FORMULAS,
        computed_at=max(stamps) if stamps else None,
    )
