"""The audit trail: one structured log line per posting, and never a secret or a signature."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from pointsnet.auth.caller import Caller, Role
from pointsnet.network.commands import SetRate
from pointsnet.observability import logger
from pointsnet.wiring import default_rates
from tests.points_life import Life, life, set_policy

__all__ = ["life"]

POSTING_FIELDS = {
    "transaction_id",
    "transaction_type",
    "partner_id",
    "member_id",
    "points",
    "request_id",
}


@pytest.fixture
def service_logs() -> Iterator[io.StringIO]:
    """Given the service's log lines, as the JSON it ships at its deployed level (INFO)."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel("INFO")
    yield written
    logger.setLevel(level)
    logger.removeHandler(handler)


def postings(logs: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "ledger posting"]


def test_every_posting_is_one_log_line_with_who_what_and_which_request(
    service_logs: io.StringIO, life: Life
) -> None:
    # Given STAR points that expire after 12 months, a STAR -> RIDE rate and a linked rider
    set_policy("starlodge", expiry={"kind": "after_earning", "months": 12})
    operator = Caller(partner_id="network", key_id="pnk_ops", role=Role.ADMIN)
    default_rates().set_rate(
        operator,
        "STAR",
        "RIDE",
        SetRate.model_validate({"rate": "0.25", "effective_from": "2020-01-01T00:00:00Z"}),
    )
    proposal = life.rideco.call(
        "POST",
        "/v1/links",
        {"member_id": "rider-1", "partner_program": "STAR", "partner_member_id": "guest-1"},
    ).body
    life.starlodge.call("POST", f"/v1/links/{proposal['link_id']}/confirm")
    # When a guest earns, burns, has the burn reversed, exchanges, and the rest expires
    earned = life.starlodge.earn("guest-1", 100)
    burned = life.starlodge.burn("guest-1", 30)
    reversed_ = life.starlodge.call(
        "POST", f"/v1/transactions/{burned.body['transaction']['transaction_id']}/reverse"
    )
    quote = life.starlodge.call(
        "POST",
        "/v1/quotes",
        {"member_id": "guest-1", "from_program": "STAR", "to_program": "RIDE", "points": 40},
    ).body
    exchanged = life.starlodge.call("POST", "/v1/exchanges", {"quote_id": quote["quote_id"]})
    assert (earned.status, burned.status, reversed_.status, exchanged.status) == (201,) * 4
    life.sweep("points", at=life.clock.at(datetime(2026, 2, 1, 1, tzinfo=UTC)))

    # Then each transaction is logged once, at INFO, with its id, type, partner, member,
    # points and the request that made it
    logged = postings(service_logs)
    assert [line["transaction_type"] for line in logged] == [
        "earn",
        "burn",
        "reversal",
        "exchange",
        "exchange",
        "expiry",
    ]
    for line in logged:
        assert set(line) >= POSTING_FIELDS, line
        assert line["level"] == "INFO"
        assert line["request_id"]
    by_id = {line["transaction_id"]: line for line in logged}
    assert len(by_id) == len(logged)
    earn = by_id[earned.body["transaction"]["transaction_id"]]
    assert (earn["partner_id"], earn["member_id"], earn["points"]) == ("starlodge", "guest-1", 100)
    # (each request its own id; the two legs of an exchange share theirs)
    assert len({line["request_id"] for line in logged}) == len(logged) - 1
    reversal = by_id[reversed_.body["transaction_id"]]
    assert reversal["reverses"] == burned.body["transaction"]["transaction_id"]
    legs = [line for line in logged if line["transaction_type"] == "exchange"]
    assert {leg["exchange_id"] for leg in legs} == {exchanged.body["exchange_id"]}
    assert {(leg["partner_id"], leg["member_id"]) for leg in legs} == {
        ("starlodge", "guest-1"),
        ("rideco", "rider-1"),
    }
    expiry = logged[-1]
    assert (expiry["initiated_by"], expiry["points"]) == ("network", 60 + 30 - 30)
    # And no secret or signature is among them
    text = service_logs.getvalue()
    for key in (life.network.starlodge, life.network.rideco):
        assert key.secret not in text
    assert "X-PN-Signature" not in text and "v1=" not in text and "v2=" not in text


def test_a_replay_posts_nothing_and_logs_no_posting(service_logs: io.StringIO, life: Life) -> None:
    # Given an earn
    first = life.starlodge.earn("guest-1", 10, "order-1", idempotency_key="order-1")
    # When it is sent again with the same Idempotency-Key
    again = life.starlodge.earn("guest-1", 10, "order-1", idempotency_key="order-1")
    # Then one posting is logged, not two
    assert (first.status, again.status) == (201, 201)
    assert [line["transaction_id"] for line in postings(service_logs)] == [
        first.body["transaction"]["transaction_id"]
    ]
