"""A member's history as the API answers it, signed as the CLI shows it: debits negative."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pointsnet.client import member_points
from pointsnet.network.commands import SetRate
from pointsnet.wiring import default_rates
from tests.helpers import Reply, SignedCaller
from tests.integration.test_network import OPERATOR


def posted(reply: Reply) -> dict[str, Any]:
    """The transaction a posting answered (201), or the body itself when it is one."""
    assert reply.status == 201, reply.body
    return dict(reply.body.get("transaction", reply.body))


def test_every_kind_of_transaction_in_a_history_is_signed_by_its_postings(
    starlodge: SignedCaller, rideco: SignedCaller
) -> None:
    # Given guest-1 linked to rider-1, a rate, and one of each thing a partner does to her:
    # an earn, a burn, the reversals of part of each, a hold captured in part, a hold voided
    # and an exchange of STAR into RIDE
    proposal = rideco.call(
        "POST",
        "/v1/links",
        {"member_id": "rider-1", "partner_program": "STAR", "partner_member_id": "guest-1"},
    )
    starlodge.call("POST", f"/v1/links/{proposal.body['link_id']}/confirm")
    default_rates().set_rate(
        OPERATOR,
        "STAR",
        "RIDE",
        SetRate.model_validate(
            {"rate": "0.25", "effective_from": datetime(2020, 1, 1, tzinfo=UTC)}
        ),
    )
    earn = posted(starlodge.earn("guest-1", 100, "stay-1"))
    burn = posted(starlodge.burn("guest-1", 30, "upgrade-1"))
    posted(starlodge.reverse(str(earn["transaction_id"]), points=20))
    posted(starlodge.reverse(str(burn["transaction_id"]), points=10))
    held = posted(starlodge.earn("guest-1", 50, "stay-2", pending=True))
    posted(
        starlodge.call("POST", f"/v1/transactions/{held['transaction_id']}/capture", {"points": 40})
    )
    dropped = posted(starlodge.earn("guest-1", 7, "stay-3", pending=True))
    posted(starlodge.call("POST", f"/v1/transactions/{dropped['transaction_id']}/void", {}))
    offer = starlodge.call(
        "POST",
        "/v1/quotes",
        {"member_id": "guest-1", "from_program": "STAR", "to_program": "RIDE", "points": 40},
    )
    posted(starlodge.call("POST", "/v1/exchanges", {"quote_id": offer.body["quote_id"]}))
    # When her history is read and each transaction signed for her
    history = starlodge.get("/v1/members/guest-1/transactions").body["items"]
    signed = [(item["type"], member_points(item)) for item in reversed(history)]
    # Then debits are negative and credits positive, oldest first
    assert signed == [
        ("earn", 100),
        ("burn", -30),
        ("reversal", -20),
        ("reversal", 10),
        ("hold", 50),
        ("capture", 40),
        ("hold", 7),
        ("void", -7),
        ("exchange", -40),
    ]
    # And what moved her available points sums to her balance: 100 - 30 - 20 + 10 + 40 - 40
    available = starlodge.get("/v1/members/guest-1").body["balance"]["available"]
    moved = [points for kind, points in signed if kind not in ("hold", "void")]
    assert sum(moved) == available == 60
