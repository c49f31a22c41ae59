"""The requests the benchmark measures, and the targets the issue sets for each.

A scenario prepares the network (members with balances) and then makes its i-th measured
request. Exchanges, holds (pending earns, capture, void) and expiries get a scenario each as
those features land: add it to SCENARIOS with its targets and every figure picks it up.
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
    prepare: Callable[[MotoNetwork], None]
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
        if reply.status != 201:
            raise RuntimeError(f"preparing {member(index)} failed: {reply}")


def _earn(network: MotoNetwork, index: int) -> Request:
    body = {"points": 120, "reference": f"stay-{index:07d}"}
    path = f"/v1/members/{member(index)}/earn"
    return network.starlodge, network.starlodge.event("POST", path, body)


def _burn(network: MotoNetwork, index: int) -> Request:
    body = {"points": 40, "reference": f"redeem-{index:07d}"}
    path = f"/v1/members/{member(index)}/burn"
    return network.starlodge, network.starlodge.event("POST", path, body)


# From the table: one transactional write of two items under 1 KB, no reads.
POSTING_TARGETS = Targets(write_units=4, read_units=0, cpu_p50_ms=0.3, cpu_p99_ms=1.0)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "earn",
        prepare=lambda network: _returning_members(network, 100),
        request=_earn,
        targets=Targets(
            write_units=4,
            read_units=0,
            cost_per_million_http=Decimal("4.00"),
            cpu_p50_ms=0.3,
            cpu_p99_ms=1.0,
        ),
    ),
    Scenario(
        "burn",
        prepare=lambda network: _returning_members(network, 1_000_000),
        request=_burn,
        targets=POSTING_TARGETS,
    ),
)
