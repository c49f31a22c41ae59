"""The requests the benchmark measures, and the targets the issue sets for each.

A scenario prepares the network (members with balances, links, quotes) for a number of
requests, and then makes its i-th measured request. Add one to SCENARIOS with its targets and
every figure picks it up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.network import MotoNetwork, PartnerInvoker

# The invoker that makes a request and the event it sends; signing is not the handler's work.
Request = tuple[PartnerInvoker, dict[str, Any]]

MEMBERS = 10


def member(index: int) -> str:
    return f"bench-{index % MEMBERS:03d}"


@dataclass(frozen=True)
class Targets:
    write_units: float | None = None
    read_units: float | None = None
    cost_per_million_http: Decimal | None = None
    cpu_p50_ms: float | None = None
    cpu_p99_ms: float | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    prepare: Callable[[MotoNetwork, int], None]
    request: Callable[[MotoNetwork, int], Request]
    expected_status: int = 201
    targets: Targets = field(default_factory=Targets)


def _returning_members(network: MotoNetwork, points: int) -> None:
    """Every bench member already has a balance: the steady state of a loyalty program."""
    for index in range(MEMBERS):
        reply = network.starlodge.call(
            "POST",
            f"/v1/members/{member(index)}/earn",
            {"points": points, "reference": f"signup-{index}"},
        )
        _expect_created(reply, f"preparing {member(index)}")


def _earn(network: MotoNetwork, index: int) -> Request:
    body = {"points": 120, "reference": f"stay-{index:07d}"}
    path = f"/v1/members/{member(index)}/earn"
    return network.starlodge, network.starlodge.event("POST", path, body)


# A realistic program: spend, categories, a campaign, a tier bonus, actions and the rest.
TEN_RULES: tuple[dict[str, Any], ...] = (
    {"rule_id": "base", "type": "per_amount", "points": 1, "per": "1.00"},
    {"rule_id": "rooms", "type": "per_amount", "points": 5, "per": "10.00", "category": "rooms"},
    {"rule_id": "dining", "type": "per_amount", "points": 3, "per": "2.00", "category": "dining"},
    {"rule_id": "spa", "type": "per_amount", "points": 2, "per": "1.00", "category": "spa"},
    {"rule_id": "dining-boost", "type": "multiplier", "factor": "1.5", "category": "dining"},
    {
        "rule_id": "winter",
        "type": "multiplier",
        "factor": "2",
        "active_from": "2020-01-01T00:00:00Z",
        "active_until": "2100-01-01T00:00:00Z",
    },
    {"rule_id": "review", "type": "action", "action": "review", "points": 50, "max_per_day": 1},
    {"rule_id": "share", "type": "action", "action": "share", "points": 10},
    {"rule_id": "friends", "type": "referral", "referrer_points": 500, "referred_points": 250},
    {"rule_id": "welcome-back", "type": "comeback", "inactive_days": 90, "points": 300},
)
CATEGORIES = ("rooms", "dining", "spa", "shop")


def _members_under_rules(network: MotoNetwork, points: int) -> None:
    from pointsnet.rules.models import RuleSet, StoredRuleSet
    from pointsnet.settings import get_settings
    from pointsnet.store.rules_store import RulesStore

    rules = RuleSet.model_validate({"rules": list(TEN_RULES)}).rules
    store = RulesStore(get_settings().directory_table)
    if store.get_rules("STAR") is None:
        store.put_rules(StoredRuleSet(program="STAR", version=1, rules=rules))
    _returning_members(network, points)


def _earn_by_amount_body(index: int) -> dict[str, Any]:
    items = [
        {
            "sku": f"sku-{line:02d}",
            "category": CATEGORIES[line % len(CATEGORIES)],
            "quantity": 1 + line % 3,
            "amount": f"{10 + line}.25",
        }
        for line in range(20)
    ]
    amount = sum(Decimal(str(item["amount"])) for item in items)
    return {"amount": str(amount), "items": items, "reference": f"stay-{index:07d}"}


def _earn_by_amount(network: MotoNetwork, index: int) -> Request:
    path = f"/v1/members/{member(index)}/earn"
    return network.starlodge, network.starlodge.event("POST", path, _earn_by_amount_body(index))


def _burn(network: MotoNetwork, index: int) -> Request:
    body = {"points": 40, "reference": f"redeem-{index:07d}"}
    path = f"/v1/members/{member(index)}/burn"
    return network.starlodge, network.starlodge.event("POST", path, body)


def _linked_members(network: MotoNetwork, points: int) -> None:
    """Each rideco rider linked to a starlodge guest who holds `points` STAR."""
    for index in range(MEMBERS):
        proposal = network.rideco.call(
            "POST",
            "/v1/links",
            {
                "member_id": rider(index),
                "partner_program": "STAR",
                "partner_member_id": member(index),
            },
        )
        _expect_created(proposal, f"linking {rider(index)}")
        link = proposal.body["link_id"]
        confirmed = network.starlodge.call("POST", f"/v1/links/{link}/confirm", {})
        _expect_created(confirmed, f"confirming {link}")
    _returning_members(network, points)


def _quote_body(index: int) -> dict[str, Any]:
    return {"member_id": member(index), "from_program": "STAR", "to_program": "RIDE", "points": 40}


def _quoted_exchanges(network: MotoNetwork, requests: int) -> None:
    """Linked members, and a quote for each exchange to come (the bench's quotes live 1 h)."""
    _linked_members(network, 1_000_000)
    network.quotes.clear()
    for index in range(requests):
        reply = network.starlodge.call("POST", "/v1/quotes", _quote_body(index))
        _expect_created(reply, f"quoting for {member(index)}")
        network.quotes.append(str(reply.body["quote_id"]))


def _quote(network: MotoNetwork, index: int) -> Request:
    return network.starlodge, network.starlodge.event("POST", "/v1/quotes", _quote_body(index))


def _exchange(network: MotoNetwork, index: int) -> Request:
    body = {"quote_id": network.quotes[index]}
    return network.starlodge, network.starlodge.event("POST", "/v1/exchanges", body)


def rider(index: int) -> str:
    return f"rider-{index % MEMBERS:03d}"


def _expect_created(reply: Any, doing: str) -> None:
    if reply.status != 201:
        raise RuntimeError(f"{doing} failed: {reply}")


# From the table: one transactional write of two items under 1 KB, no reads.
POSTING_TARGETS = Targets(write_units=4, read_units=0, cpu_p50_ms=0.3, cpu_p99_ms=1.0)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "earn",
        prepare=lambda network, _: _returning_members(network, 100),
        request=_earn,
        targets=Targets(
            write_units=4,
            read_units=0,
            cost_per_million_http=Decimal("4.00"),
            cpu_p50_ms=0.3,
            cpu_p99_ms=1.0,
        ),
    ),
    # The target: the same units as a plain earn, at most 0.2 ms more CPU.
    Scenario(
        "earn by amount",
        prepare=lambda network, _: _members_under_rules(network, 100),
        request=_earn_by_amount,
    ),
    Scenario(
        "burn",
        prepare=lambda network, _: _returning_members(network, 1_000_000),
        request=_burn,
        targets=POSTING_TARGETS,
    ),
    # The issue sets no target for these; an exchange is a quote then the exchange itself.
    Scenario(
        "quote",
        prepare=lambda network, _: _linked_members(network, 1_000_000),
        request=_quote,
    ),
    Scenario("exchange", prepare=_quoted_exchanges, request=_exchange),
)
