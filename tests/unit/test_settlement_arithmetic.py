"""Settlement arithmetic: per-line half-even rounding, netting, net positions, differences."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given
from hypothesis import strategies as st

from pointsnet.ledger.models import ObligationTerms
from pointsnet.settlement.arithmetic import (
    LineTotals,
    bilateral_netting,
    difference,
    figures_of,
    net_positions,
    settle_lines,
)
from pointsnet.settlement.money import minor_unit, round_money

PARTNERS = ("cafe", "rideco", "starlodge", "tours")


def terms(
    payer: str, payee: str, points: int, unit_price: str, program: str = "STAR"
) -> ObligationTerms:
    return ObligationTerms(
        payer=payer,
        payee=payee,
        program=program,
        points=points,
        unit_price=Decimal(unit_price),
        currency="USD",
    )


def totals(*items: ObligationTerms) -> LineTotals:
    gathered = LineTotals()
    for item in items:
        gathered.add(item)
    return gathered


def test_each_line_is_summed_exactly_then_rounded_once_half_even() -> None:
    # Given two earns whose exact sum ends on a half cent: 0.0025 x (401 + 601) = 2.505
    gathered = totals(
        terms("rideco", "starlodge", 401, "0.0025"), terms("rideco", "starlodge", 601, "0.0025")
    )
    # When the lines are settled
    [line] = settle_lines(gathered.lines.values(), "USD")
    # Then 2.505 becomes 2.50 (half-even), the exact figure and the rounding kept beside it
    assert (line.points, line.exact_amount, line.amount) == (
        1002,
        Decimal("2.5050"),
        Decimal("2.50"),
    )
    assert line.rounding == Decimal("-0.0050")
    assert line.obligations == 2


def test_the_line_is_rounded_not_each_obligation() -> None:
    # Given three one-point earns of 0.0025 each: each alone would round to 0.00
    gathered = totals(*(terms("cafe", "starlodge", 1, "0.0025") for _ in range(3)))
    # When they are settled as one line
    # Then their line, 0.0075, rounds to 0.01
    [line] = settle_lines(gathered.lines.values(), "USD")
    assert (line.exact_amount, line.amount, line.obligations) == (
        Decimal("0.0075"),
        Decimal("0.01"),
        3,
    )


def test_a_reversal_nets_inside_its_line() -> None:
    # Given an earn of 400 points at rideco for starlodge, and a reversal of 100 of them
    gathered = totals(
        terms("rideco", "starlodge", 400, "0.0025"), terms("rideco", "starlodge", -100, "0.0025")
    )
    # When they are settled
    # Then they are one line of 300 points, 0.75
    [line] = settle_lines(gathered.lines.values(), "USD")
    assert (line.points, line.amount) == (300, Decimal("0.75"))


def test_lines_are_kept_apart_by_direction_and_program() -> None:
    # Given obligations both ways between rideco and starlodge, in two programs
    gathered = totals(
        terms("rideco", "starlodge", 100, "0.0025"),
        terms("starlodge", "rideco", 7, "0.01", program="RIDE"),
        terms("rideco", "starlodge", 10, "0.0025", program="STAR"),
    )
    # When they are settled
    # Then there is a line per payer, payee and program, the same program's summed
    lines = settle_lines(gathered.lines.values(), "USD")
    assert [(line.payer, line.payee, line.program, line.points) for line in lines] == [
        ("rideco", "starlodge", "STAR", 110),
        ("starlodge", "rideco", "RIDE", 7),
    ]


def test_bilateral_netting_makes_one_payment_per_pair_whichever_way() -> None:
    # Given lines of 2.50 rideco to starlodge, 3.00 back the other way, and 0.01 from cafe
    lines = settle_lines(
        totals(
            terms("rideco", "starlodge", 1000, "0.0025"),
            terms("starlodge", "rideco", 300, "0.01", program="RIDE"),
            terms("cafe", "starlodge", 4, "0.0025"),
        ).lines.values(),
        "USD",
    )
    # When they are netted pair by pair
    # Then each pair makes one payment, of the difference, from whoever owes more
    netted = bilateral_netting(lines, "USD")
    assert [(net.payer, net.payee, net.amount) for net in netted] == [
        ("cafe", "starlodge", Decimal("0.01")),
        ("starlodge", "rideco", Decimal("0.50")),
    ]


def test_a_currency_without_cents_rounds_to_whole_units() -> None:
    # Given yen, which has no minor unit, and dinars, which have three decimals
    # When their minor units are looked up and amounts of yen are rounded
    # Then yen round to whole units, half to even
    assert minor_unit("JPY") == Decimal("1")
    assert minor_unit("KWD") == Decimal("0.001")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("2")
    assert round_money(Decimal("3.5"), "JPY") == Decimal("4")


amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.05"), places=4)
obligations = st.lists(
    st.tuples(
        st.sampled_from(PARTNERS),
        st.sampled_from(PARTNERS),
        st.integers(min_value=-500, max_value=5000),
        amounts,
    ).filter(lambda item: item[0] != item[1]),
    max_size=40,
)


@given(obligations)
def test_net_positions_sum_to_exactly_zero_and_follow_from_the_lines(
    drawn: list[tuple[str, str, int, Decimal]],
) -> None:
    # Given any obligations between partners, earns and reversals, at any prices
    gathered = totals(
        *(terms(payer, payee, points, str(price)) for payer, payee, points, price in drawn)
    )
    # When they are settled into lines, net positions and bilateral payments
    figures = figures_of(settle_lines(gathered.lines.values(), "USD"), "USD")
    # Then the positions sum to zero, to the cent
    assert sum((position.amount for position in figures.net_positions), Decimal(0)) == 0
    # Every line is its exact amount rounded half-even, and positions are sums of lines
    recomputed: dict[str, Decimal] = {}
    for line in figures.lines:
        assert line.amount == line.exact_amount.quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        recomputed[line.payee] = recomputed.get(line.payee, Decimal(0)) + line.amount
        recomputed[line.payer] = recomputed.get(line.payer, Decimal(0)) - line.amount
    assert {
        position.partner_id: position.amount for position in figures.net_positions
    } == recomputed
    # The residual is exactly the difference between the rounded and the exact totals
    exact = sum((line.exact_amount for line in figures.lines), Decimal(0))
    settled = sum((line.amount for line in figures.lines), Decimal(0))
    assert figures.rounding.residual == settled - exact
    # Bilateral payments, one per pair, move each partner by its net position
    moved: dict[str, Decimal] = {}
    for net in figures.bilateral:
        assert net.amount >= 0
        moved[net.payee] = moved.get(net.payee, Decimal(0)) + net.amount
        moved[net.payer] = moved.get(net.payer, Decimal(0)) - net.amount
    assert {partner: amount for partner, amount in moved.items() if amount} == {
        partner: amount for partner, amount in recomputed.items() if amount
    }


@given(obligations, obligations)
def test_an_adjustment_plus_what_was_settled_is_what_is_owed_now(
    earlier: list[tuple[str, str, int, Decimal]], later: list[tuple[str, str, int, Decimal]]
) -> None:
    # Given obligations already settled and later ones for the same period
    settled_terms = [terms(p, q, n, str(price)) for p, q, n, price in earlier]
    settled = settle_lines(totals(*settled_terms).lines.values(), "USD")
    current = settle_lines(
        totals(
            *settled_terms, *(terms(p, q, n, str(price)) for p, q, n, price in later)
        ).lines.values(),
        "USD",
    )
    # When the adjustment is what is owed now less what was settled
    adjustment = difference(current, settled)
    # Then per line, the adjustment's amount is what was settled short, to the cent
    before = {(line.payer, line.payee, line.program): line.amount for line in settled}
    after = {(line.payer, line.payee, line.program): line.amount for line in current}
    for line in adjustment:
        key = (line.payer, line.payee, line.program)
        assert line.amount == after.get(key, Decimal(0)) - before.get(key, Decimal(0))
    # And positions add up: what was settled plus the adjustment is what is owed now
    combined = {p.partner_id: p.amount for p in net_positions(settled, "USD")}
    for position in net_positions(adjustment, "USD"):
        combined[position.partner_id] = (
            combined.get(position.partner_id, Decimal(0)) + position.amount
        )
    now = {p.partner_id: p.amount for p in net_positions(current, "USD")}
    assert {k: v for k, v in combined.items() if v} == {k: v for k, v in now.items() if v}


def test_a_difference_of_nothing_is_no_line() -> None:
    # Given a settled line of 10 points from rideco to starlodge
    lines = settle_lines(totals(terms("rideco", "starlodge", 10, "0.0025")).lines.values(), "USD")
    # When it is compared with itself
    # Then the difference has no lines
    assert difference(lines, lines) == []
