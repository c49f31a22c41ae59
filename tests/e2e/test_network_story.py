"""The network's story over HTTP with the real client, and the ledger under concurrent load."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_FLOOR, Decimal

import pytest

from pointsnet.client import PointsNetClient, PointsNetError
from pointsnet.local.runtime import LocalNetwork


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def available(client: PointsNetClient, member_id: str) -> int:
    return int(client.get_member(member_id)["balance"]["available"])


def test_a_rider_earns_hotel_points_and_converts_them_to_ride_points(local: LocalNetwork) -> None:
    starlodge, rideco = local.client("starlodge"), local.client("rideco")
    rider, guest = unique("rider"), unique("guest")
    # Given rideco's rider links to starlodge's guest, and starlodge confirms
    proposal = rideco.propose_link(rider, "STAR", guest)
    assert proposal["status"] == "pending"
    assert starlodge.confirm_link(proposal["link_id"])["status"] == "active"
    # When three rides earn 150 STAR each for the guest
    for ride in range(3):
        rideco.earn(rider, 150, f"ride-{ride}", program="STAR")
    # Then the guest holds 450 STAR at starlodge, and her history shows the rides
    assert available(starlodge, guest) == 450
    history = starlodge.list_transactions(guest)["items"]
    assert [item["reference"] for item in history] == ["ride-2", "ride-1", "ride-0"]
    assert {item["initiated_by"] for item in history} == {"rideco"}
    # When the guest converts 450 STAR to RIDE at the published rate
    rate = Decimal(rideco.get_rate("STAR", "RIDE")["rate"])
    quote = starlodge.create_quote(guest, "STAR", "RIDE", 450)
    expected_in = int((rate * 450).to_integral_value(rounding=ROUND_FLOOR))
    assert quote["points_in"] == expected_in
    exchange = starlodge.exchange(quote["quote_id"])
    # Then STAR is empty, the rider holds exactly what the rate and rounding say
    assert exchange["balances"]["from"]["available"] == 0
    assert available(starlodge, guest) == 0
    assert available(rideco, rider) == expected_in
    # And each transaction records the money it creates between the partners
    rides = [rideco.get_transaction(item["transaction_id"]) for item in history]
    for ride in rides:
        assert ride["obligation"]["payer"] == "rideco"
        assert ride["obligation"]["payee"] == "starlodge"
        assert (ride["obligation"]["points"], ride["obligation"]["unit_price"]) == (150, "0.0025")
    credit = exchange["credit"]["obligation"]
    assert (credit["payer"], credit["payee"], credit["points"]) == (
        "starlodge",
        "rideco",
        expected_in,
    )
    assert credit["unit_price"] == "0.01"


def test_an_unlinked_exchange_is_refused(local: LocalNetwork) -> None:
    # Given a starlodge guest with 100 points and no link to a rideco member
    starlodge = local.client("starlodge")
    guest = unique("guest")
    starlodge.earn(guest, 100, "stay")
    # When starlodge asks for a quote to exchange 40 STAR points for RIDE
    # Then it is refused because the member is not linked
    with pytest.raises(PointsNetError) as refused:
        starlodge.create_quote(guest, "STAR", "RIDE", 40)
    assert (refused.value.status, refused.value.code) == (422, "not_linked")


def test_20_concurrent_exchanges_take_only_what_the_balance_allows(local: LocalNetwork) -> None:
    starlodge, rideco = local.client("starlodge"), local.client("rideco")
    rider, guest = unique("rider"), unique("guest")
    link = rideco.propose_link(rider, "STAR", guest)
    starlodge.confirm_link(link["link_id"])
    # Given the guest holds 1000 STAR and 20 quotes of 120 STAR each (enough for 8 of them)
    starlodge.earn(guest, 1000, "stay")
    quotes = [starlodge.create_quote(guest, "STAR", "RIDE", 120) for _ in range(20)]

    def exchange(quote_id: str) -> str:
        try:
            starlodge.exchange(quote_id)
        except PointsNetError as error:
            return error.code
        return "ok"

    # When all 20 execute at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(exchange, [quote["quote_id"] for quote in quotes]))
    # Then exactly 8 succeed, the rest find too few points, and nothing goes below zero
    assert outcomes.count("ok") == 8, outcomes
    assert set(outcomes) == {"ok", "insufficient_points"}
    assert available(starlodge, guest) == 1000 - 8 * 120
    assert available(rideco, rider) == 8 * quotes[0]["points_in"]


def test_50_concurrent_burns_of_10_against_100_succeed_exactly_10_times(
    local: LocalNetwork,
) -> None:
    # Given a starlodge guest with 100 points
    starlodge = local.client("starlodge")
    guest = unique("guest")
    starlodge.earn(guest, 100, "stay")

    def burn(number: int) -> str:
        try:
            starlodge.burn(guest, 10, f"burn-{number}")
        except PointsNetError as error:
            return error.code
        return "ok"

    # When starlodge sends 50 burns of 10 points at once
    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(burn, range(50)))
    # Then exactly 10 succeed and 40 are refused for insufficient points,
    # leaving no points, the earn and 10 burns in the history
    assert outcomes.count("ok") == 10, outcomes
    assert outcomes.count("insufficient_points") == 40
    assert available(starlodge, guest) == 0
    assert len(list(starlodge.iter_transactions(guest))) == 11
