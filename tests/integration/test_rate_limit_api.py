"""Per-partner rate limits through the real apps on moto: 429 with Retry-After, nothing posted,
recovery, isolation between partners, the admin endpoint, and the network's own keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pointsnet.api.admin import create_admin_app
from pointsnet.api.finance import create_finance_app
from pointsnet.api.partner import create_partner_app
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.partners.models import IssuedKey
from pointsnet.partners.rate_limits import DEFAULT_RATE_LIMIT, RateLimiter
from pointsnet.settings import get_settings
from pointsnet.store.rate_budget_store import RateBudgetStore
from tests.helpers import DemoNetwork, LambdaContextStub, Reply, SignedCaller


@dataclass
class Clock:
    """Real time at the start, then moved on by the test only."""

    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Instances:
    """Function instances on moto, each with its own limiter, all on one injected clock."""

    clock: Clock
    network: DemoNetwork

    def limiter(self) -> RateLimiter:
        return RateLimiter(RateBudgetStore(get_settings().directory_table), self.clock)

    def caller(
        self, factory: Callable[..., PointsNetResolver], key: IssuedKey, limiter: RateLimiter
    ) -> SignedCaller:
        app = factory(rate_limiter=lambda: limiter)
        return SignedCaller(
            lambda event, _: app.resolve(event, LambdaContextStub()), key, self.clock
        )

    def partner(self, key: IssuedKey, limiter: RateLimiter | None = None) -> SignedCaller:
        return self.caller(create_partner_app, key, limiter or self.limiter())

    def admin(self) -> SignedCaller:
        return self.caller(create_admin_app, self.network.admin, self.limiter())

    def finance(self) -> SignedCaller:
        return self.caller(create_finance_app, self.network.finance, self.limiter())


@pytest.fixture
def instances(network: DemoNetwork) -> Instances:
    return Instances(Clock(time.time()), network)


def set_limit(admin: SignedCaller, partner_id: str, rate: Any, burst: Any) -> Reply:
    return admin.call(
        "PUT", f"/v1/partners/{partner_id}/rate-limit", {"rate": rate, "burst": burst}
    )


def test_an_earn_over_the_limit_is_refused_429_with_retry_after_and_posts_nothing(
    instances: Instances,
) -> None:
    # Given starlodge limited to 2 requests a second, bursts of 2
    assert set_limit(instances.admin(), "starlodge", 2, 2).status == 200
    starlodge = instances.partner(instances.network.starlodge)
    # When it earns three times at one instant
    first = starlodge.earn("guest-1", 100, "stay-1")
    second = starlodge.earn("guest-1", 100, "stay-2")
    refused = starlodge.earn("guest-1", 100, "stay-3", idempotency_key="stay-3-attempt")
    # Then the third is refused 429 rate_limited with a whole-second Retry-After of at least 1
    assert (first.status, second.status) == (201, 201)
    assert (refused.status, refused.code) == (429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-Request-Id"] == refused.body["error"]["request_id"]
    # And once Retry-After has passed, the member has only the first two earns
    instances.clock.now += int(refused.headers["Retry-After"])
    member = starlodge.get("/v1/members/guest-1")
    assert member.body["balance"]["available"] == 200
    # And the refused earn's Idempotency-Key was never used: sent again, it posts afresh
    instances.clock.now += 1
    retried = starlodge.earn("guest-1", 100, "stay-3", idempotency_key="stay-3-attempt")
    assert retried.status == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.body["balance"]["available"] == 300


def test_a_limited_partner_recovers_at_its_rate_after_waiting(instances: Instances) -> None:
    # Given starlodge at 5/s, burst 5, that spent its burst
    set_limit(instances.admin(), "starlodge", 5, 5)
    starlodge = instances.partner(instances.network.starlodge)
    statuses = [starlodge.get("/v1/members/guest-1").status for _ in range(8)]
    assert statuses.count(429) == 3
    # When a second passes
    instances.clock.now += 1
    # Then it is served again, its rate's worth and no more
    statuses = [starlodge.get("/v1/members/guest-1").status for _ in range(8)]
    assert statuses.count(429) == 3
    assert set(statuses) == {404, 429}  # guest-1 never earned: 404 is an answer, not a refusal


def test_another_partner_is_not_limited_by_one_over_its_limit(instances: Instances) -> None:
    # Given starlodge out of tokens at 1/s, burst 1
    set_limit(instances.admin(), "starlodge", 1, 1)
    limiter = instances.limiter()  # one instance serving both partners
    starlodge = instances.partner(instances.network.starlodge, limiter)
    rideco = instances.partner(instances.network.rideco, limiter)
    assert starlodge.earn("guest-1", 10, "a").status == 201
    assert starlodge.earn("guest-1", 10, "b").status == 429
    # When rideco earns at the same instant
    replies = [rideco.earn("rider-1", 10, f"ride-{n}") for n in range(5)]
    # Then every one is posted
    assert [reply.status for reply in replies] == [201] * 5


def test_the_limit_is_shared_by_every_instance_of_the_partner(instances: Instances) -> None:
    # Given starlodge at 3/s, burst 3, served by two instances of the partner function
    set_limit(instances.admin(), "starlodge", 3, 3)
    one = instances.partner(instances.network.starlodge)
    other = instances.partner(instances.network.starlodge)
    # When each sends three requests at one instant
    statuses = [caller.get("/v1/members/x").status for caller in (one, other) for _ in range(3)]
    # Then three were served between them, and three refused
    assert statuses.count(429) == 3


def test_the_network_finance_and_admin_keys_share_partner_networks_limit(
    instances: Instances,
) -> None:
    # Given partner network (the finance and admin keys) limited to 1/s, burst 1
    admin = instances.admin()
    assert set_limit(admin, "network", 1, 1).status == 200
    instances.clock.now += 2
    finance = instances.finance()
    # When the admin key makes a request, and the finance key another at the same instant
    listed = admin.get("/v1/partners")
    settlements = finance.get("/v1/settlements")
    # Then the finance function refuses the second: both count against partner network
    assert listed.status == 200
    assert (settlements.status, settlements.code) == (429, "rate_limited")
    # And a partner is not limited by it
    assert instances.partner(instances.network.starlodge).get("/v1/members/x").status == 404


def test_a_partner_without_a_limit_has_the_defaults(instances: Instances) -> None:
    # Given rideco, for which no limit was ever set
    rideco = instances.partner(instances.network.rideco)
    # When it sends its default burst and one more at one instant
    statuses = [rideco.get("/v1/members/x").status for _ in range(DEFAULT_RATE_LIMIT.burst + 1)]
    # Then only the last is refused
    assert statuses[:-1] == [404] * DEFAULT_RATE_LIMIT.burst
    assert statuses[-1] == 429


# the admin endpoint


def test_setting_a_limit_answers_the_partner_with_it_and_lists_show_every_partners(
    instances: Instances,
) -> None:
    # Given the demo network's admin API, no partner with a limit of its own
    admin = instances.admin()
    # When an admin sets starlodge's limit
    reply = set_limit(admin, "starlodge", 50, 100)
    # Then it answers 200 with the partner, showing its limit
    assert reply.status == 200
    assert reply.body["partner_id"] == "starlodge"
    assert reply.body["rate_limit"] == {"rate": 50, "burst": 100}
    # And the partner list shows it, and the defaults for partners with none set
    listed = {
        item["partner_id"]: item["rate_limit"] for item in admin.get("/v1/partners").body["items"]
    }
    assert listed["starlodge"] == {"rate": 50, "burst": 100}
    assert listed["rideco"] == DEFAULT_RATE_LIMIT.model_dump()


@pytest.mark.parametrize(
    "body",
    [
        {"rate": "50", "burst": 100},
        {"rate": 50, "burst": 100.0},
        {"rate": True, "burst": 100},
        {"rate": 0, "burst": 100},
        {"rate": 101, "burst": 100},
        {"rate": 50},
        {"burst": 100},
        {"rate": 50, "burst": 100, "per": "minute"},
        {"rate": 50, "burst": 10_000_000},
    ],
)
def test_a_limit_that_is_not_two_integers_with_rate_at_most_burst_is_422(
    instances: Instances, body: dict[str, Any]
) -> None:
    # Given a limit body that is not two integers with 1 <= rate <= burst, or is too large
    admin = instances.admin()
    # When an admin sends it
    reply = admin.call("PUT", "/v1/partners/starlodge/rate-limit", body)
    # Then it is refused 422 validation_error naming the problem, and the limit is unchanged
    assert (reply.status, reply.code) == (422, "validation_error")
    assert reply.body["error"]["details"]
    starlodge = next(
        item
        for item in admin.get("/v1/partners").body["items"]
        if item["partner_id"] == "starlodge"
    )
    assert starlodge["rate_limit"] == DEFAULT_RATE_LIMIT.model_dump()


def test_a_limit_for_an_unknown_partner_is_404_and_a_partner_key_may_not_set_one(
    instances: Instances,
) -> None:
    # Given no partner nobody; When an admin sets its limit
    reply = set_limit(instances.admin(), "nobody", 5, 5)
    # Then it is not found
    assert (reply.status, reply.code) == (404, "not_found")
    # And when starlodge's partner key sets its own limit, then it is forbidden
    starlodge_as_admin = instances.caller(
        create_admin_app, instances.network.starlodge, instances.limiter()
    )
    assert set_limit(starlodge_as_admin, "starlodge", 1000, 1000).code == "forbidden"
