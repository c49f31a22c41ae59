"""Statements: each partner sees its own side of a settlement, and the sides add up."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.helpers import DemoNetwork, SignedCaller
from tests.integration.test_settlement import cafe, finance, finance_handler, period, run

__all__ = ["cafe", "finance", "finance_handler", "period"]


def statements(caller: SignedCaller, start: date, end: date) -> list[dict[str, Any]]:
    reply = caller.get("/v1/statements", period_start=start.isoformat(), period_end=end.isoformat())
    assert reply.status == 200, reply.body
    return list(reply.body["items"])


def test_each_side_sees_only_its_lines_and_the_sides_sum_to_the_net_positions(
    admin: SignedCaller,
    finance: SignedCaller,
    starlodge: SignedCaller,
    rideco: SignedCaller,
    cafe: SignedCaller,
    period: date,
) -> None:
    # Given a settled day between starlodge, rideco and cafe
    settled = run(admin, period)
    assert settled.status == 201, settled.body
    settlement = finance.get(f"/v1/settlements/{settled.body['settlement_id']}").body
    # When each partner reads its statements for the day
    sides = {
        name: statements(caller, period, period)
        for name, caller in (("starlodge", starlodge), ("rideco", rideco), ("cafe", cafe))
    }
    # Then each has one statement, of this settlement, in its status, provisional as it is
    # (the day is today's, not over yet)
    for name, items in sides.items():
        assert [item["settlement_id"] for item in items] == [settlement["settlement_id"]], name
        assert items[0]["status"] == settlement["status"]
        assert items[0]["provisional"] is settlement["provisional"] is True
    # And finance's list says so too
    (listed,) = finance.get("/v1/settlements").body["items"]
    assert listed["provisional"] is True
    # And each statement's lines are exactly the settlement's lines the partner is on
    for name, (statement,) in sides.items():
        own = [line for line in settlement["lines"] if name in (line["payer"], line["payee"])]
        assert len(statement["lines"]) == len(own)
        for line, mine in zip(own, statement["lines"], strict=True):
            pays = line["payer"] == name
            assert mine["direction"] == ("pays" if pays else "receives")
            assert mine["counterparty"] == (line["payee"] if pays else line["payer"])
            assert (mine["points"], mine["amount"]) == (line["points"], line["amount"])
    # And each net position is the settlement's for that partner, and they sum to zero
    positions = {p["partner_id"]: Decimal(p["amount"]) for p in settlement["net_positions"]}
    from_statements = {name: Decimal(items[0]["net_position"]) for name, items in sides.items()}
    assert from_statements == positions
    assert sum(from_statements.values()) == 0
    # And the net position is what its lines move: received less paid
    for name, (statement,) in sides.items():
        moved = sum(
            Decimal(line["amount"]) * (1 if line["direction"] == "receives" else -1)
            for line in statement["lines"]
        )
        assert moved == from_statements[name], name
    # And the other partners are named
    (rideco_side,) = sides["rideco"]
    assert rideco_side["counterparties"] == [
        {"partner_id": "starlodge", "name": "Star Lodge Hotels"}
    ]


def test_a_period_with_no_settlement_has_no_statements(
    starlodge: SignedCaller, period: date
) -> None:
    # Given a settled-nothing week before the activity; When starlodge reads its statements
    # Then there are none
    assert statements(starlodge, period - timedelta(days=8), period - timedelta(days=1)) == []


def test_a_backwards_or_missing_period_is_refused(starlodge: SignedCaller) -> None:
    # Given starlodge's partner key
    # When it asks with the end before the start, or without an end
    backwards = starlodge.get("/v1/statements", period_start="2026-02-02", period_end="2026-02-01")
    missing = starlodge.get("/v1/statements", period_start="2026-02-02")
    # Then both are refused as invalid
    assert backwards.status == 422 and backwards.body["error"]["code"] == "validation_error"
    assert missing.status == 422 and missing.body["error"]["code"] == "validation_error"


def test_only_a_partner_key_reads_statements(network: DemoNetwork, partner_handler: Any) -> None:
    # Given the finance key calling the partner function
    finance_key = SignedCaller(partner_handler, network.finance)
    # When it asks for statements; Then it is forbidden: a statement is one partner's own
    reply = finance_key.get("/v1/statements", period_start="2026-02-01", period_end="2026-02-01")
    assert reply.status == 403 and reply.body["error"]["code"] == "forbidden"
