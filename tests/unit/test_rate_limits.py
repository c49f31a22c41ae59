"""The per-partner rate limiter's token leases, on an in-memory budget and an injected clock."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from pointsnet.api.errors import error_result
from pointsnet.errors import RateLimited
from pointsnet.partners.rate_limits import (
    DEFAULT_RATE_LIMIT,
    LEASE_SECONDS,
    BudgetState,
    LeaseOutcome,
    LeaseRequest,
    RateLimit,
    RateLimitCommand,
    RateLimiter,
    grants,
)

START = 1_767_225_600.0


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryBudgets:
    """Budget items as DynamoDB would keep them, granting by the store's condition."""

    items: dict[str, BudgetState] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    granted_tokens: Counter[str] = field(default_factory=Counter)

    def lease(self, request: LeaseRequest) -> LeaseOutcome:
        self.calls[request.partner_id] += 1
        exists = request.partner_id in self.items
        state = self.items.get(request.partner_id, BudgetState())
        if not grants(request, state, exists):
            return LeaseOutcome(granted=False, state=state)
        tat = (
            request.now_us + request.increment_us
            if request.reset
            else (state.tat_us or 0) + request.increment_us
        )
        after = BudgetState(tat_us=tat, limit=state.limit)
        self.items[request.partner_id] = after
        self.granted_tokens[request.partner_id] += request.tokens
        return LeaseOutcome(granted=True, state=after)

    def set_limit(self, partner_id: str, limit: RateLimit) -> None:
        state = self.items.get(partner_id, BudgetState())
        self.items[partner_id] = BudgetState(tat_us=state.tat_us, limit=limit)


def admitted(limiter: RateLimiter, partner_id: str, requests: int) -> int:
    count = 0
    for _ in range(requests):
        try:
            limiter.admit(partner_id)
        except RateLimited:
            continue
        count += 1
    return count


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def budgets() -> MemoryBudgets:
    return MemoryBudgets()


def test_a_quiet_partner_gets_its_burst_at_once_and_then_a_429_with_retry_after(
    clock: Clock, budgets: MemoryBudgets
) -> None:
    # Given a partner limited to 10/s with bursts of 30, served by one instance
    budgets.set_limit("starlodge", RateLimit(rate=10, burst=30))
    limiter = RateLimiter(budgets, clock)
    # When it sends 40 requests at one instant
    count = admitted(limiter, "starlodge", 30)
    # Then its 30 burst tokens are served, and the next request is refused with Retry-After
    assert count == 30
    with pytest.raises(RateLimited) as refused:
        limiter.admit("starlodge")
    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after >= 1
    assert isinstance(refused.value.retry_after, int)


def test_the_bucket_refills_at_the_rate_after_waiting(clock: Clock, budgets: MemoryBudgets) -> None:
    # Given a partner at 20/s, burst 20, that spent its whole burst
    budgets.set_limit("starlodge", RateLimit(rate=20, burst=20))
    limiter = RateLimiter(budgets, clock)
    assert admitted(limiter, "starlodge", 25) == 20
    # When it waits Retry-After, and then a whole second more
    with pytest.raises(RateLimited) as refused:
        limiter.admit("starlodge")
    clock.now += refused.value.retry_after
    # Then it is served again: what one second refilled, at most its burst
    assert admitted(limiter, "starlodge", 40) == 20


def test_a_refused_instance_waits_locally_before_asking_the_budget_again(
    clock: Clock, budgets: MemoryBudgets
) -> None:
    # Given a partner at 1/s, burst 1, whose one token is spent
    budgets.set_limit("starlodge", RateLimit(rate=1, burst=1))
    limiter = RateLimiter(budgets, clock)
    limiter.admit("starlodge")
    with pytest.raises(RateLimited):
        limiter.admit("starlodge")
    calls = budgets.calls["starlodge"]
    # When 100 more requests arrive at once
    assert admitted(limiter, "starlodge", 100) == 0
    # Then the instance refused them itself, without another write to the budget
    assert budgets.calls["starlodge"] == calls


def test_leases_grow_to_a_tenth_of_the_rate_so_a_busy_partner_writes_rarely(
    clock: Clock, budgets: MemoryBudgets
) -> None:
    # Given a partner at 1,000/s served by one busy instance, 900 requests a second
    budgets.set_limit("starlodge", RateLimit(rate=1000, burst=2000))
    limiter = RateLimiter(budgets, clock)
    served = 0
    # When it serves them for 10 seconds
    for _ in range(9000):  # 10 s
        clock.now += 1 / 900
        served += admitted(limiter, "starlodge", 1)
    # Then every request is served, with at most a lease per 100 requests (0.01 write each)
    assert served == 9000
    assert budgets.calls["starlodge"] / served <= 0.012


def test_a_block_is_at_most_a_tenth_of_a_second_of_the_rate(
    clock: Clock, budgets: MemoryBudgets
) -> None:
    # Given a partner at the default 100/s, burst 200, served by one instance
    limiter = RateLimiter(budgets, clock)
    # When it serves its whole burst at one instant
    assert admitted(limiter, "starlodge", 200) == DEFAULT_RATE_LIMIT.burst
    # Then it took leases of 1, 2, 4, 8 and then of 10 tokens, 18 of them, and the last 5
    # tokens after a lease of 10 was refused: 24 writes for 200 requests
    assert budgets.calls["starlodge"] == 4 + 18 + 2


def test_unspent_tokens_of_an_expired_lease_are_lost_not_served(
    clock: Clock, budgets: MemoryBudgets
) -> None:
    # Given an instance that leased 1, 2, 4 and 8 tokens at one instant, spent them, and then
    # leased a block of 10 and spent 1 of it
    budgets.set_limit("starlodge", RateLimit(rate=100, burst=100))
    limiter = RateLimiter(budgets, clock)
    assert admitted(limiter, "starlodge", 15 + 1) == 16
    assert budgets.granted_tokens["starlodge"] == 15 + 10
    # When its lease has expired
    clock.now += LEASE_SECONDS + 0.01
    limiter.admit("starlodge")
    # Then the next request leased again: the 9 unspent tokens were not served
    assert budgets.granted_tokens["starlodge"] > 15 + 10


def test_a_new_limit_reaches_an_instance_at_its_next_lease(
    clock: Clock, budgets: MemoryBudgets
) -> None:
    # Given an instance serving a partner under the defaults
    limiter = RateLimiter(budgets, clock)
    admitted(limiter, "starlodge", 3)
    # When an admin lowers the limit to 2/s, burst 2, and the instance's lease has expired
    budgets.set_limit("starlodge", RateLimit(rate=2, burst=2))
    clock.now += 5
    # Then the instance serves 2 requests at one instant, not its default 200
    assert admitted(limiter, "starlodge", 10) == 2


def test_another_partner_has_a_bucket_of_its_own(clock: Clock, budgets: MemoryBudgets) -> None:
    # Given starlodge out of tokens
    budgets.set_limit("starlodge", RateLimit(rate=1, burst=1))
    limiter = RateLimiter(budgets, clock)
    admitted(limiter, "starlodge", 5)
    # When rideco sends requests at the same instant
    # Then they are served
    assert admitted(limiter, "rideco", 5) == 5


@pytest.mark.parametrize("instances", [4, 16])
def test_many_instances_accept_at_most_a_tenth_more_than_the_limit_in_any_10_s(
    clock: Clock, budgets: MemoryBudgets, instances: int
) -> None:
    # Given a partner at 50/s, burst 100, served by several instances sharing one budget
    limit = RateLimit(rate=50, burst=100)
    budgets.set_limit("starlodge", limit)
    limiters = [RateLimiter(budgets, clock) for _ in range(instances)]
    # When it sends 400 requests a second for 30 s, spread over the instances
    accepted: list[float] = []
    for tick in range(400 * 30):
        clock.now = START + tick / 400
        if admitted(limiters[tick % instances], "starlodge", 1):
            accepted.append(clock.now)
    # Then no 10 s window accepted more than 1.1 x (burst + rate x 10)
    bound = limit.burst + limit.rate * 10
    for index, start in enumerate(accepted):
        window = sum(1 for at in accepted[index : index + 2 * bound] if at < start + 10)
        assert window <= 1.1 * bound
    # And over the whole run it accepted at least 80 % of what the limit allows
    assert len(accepted) >= 0.8 * (limit.burst + limit.rate * 30)


def test_a_partner_at_5000_per_second_over_its_limit_writes_its_budget_rarely(
    clock: Clock, budgets: MemoryBudgets
) -> None:
    # Given a partner at the default 100/s sending 5,000 requests a second over 50 instances
    limiters = [RateLimiter(budgets, clock) for _ in range(50)]
    # When they send them for 4 seconds
    for tick in range(5000 * 4):
        clock.now = START + tick / 5000
        admitted(limiters[tick % 50], "starlodge", 1)
    # Then its budget item was written (or refused) well under 500 times a second
    assert budgets.calls["starlodge"] / 4 < 500


def test_a_rate_limit_body_takes_only_json_integers_with_rate_at_most_burst() -> None:
    # Given the admin endpoint's body model
    # When bodies are validated with it
    # Then integers with 1 <= rate <= burst are accepted
    accepted = RateLimitCommand.model_validate({"rate": 50, "burst": 100})
    assert (accepted.rate, accepted.burst) == (50, 100)
    # And strings, floats, booleans, zero, rate above burst and unknown fields are refused
    for body in (
        {"rate": "50", "burst": 100},
        {"rate": 50.0, "burst": 100},
        {"rate": True, "burst": 100},
        {"rate": 0, "burst": 100},
        {"rate": 101, "burst": 100},
        {"rate": 50},
        {"rate": 50, "burst": 100, "period": 1},
    ):
        with pytest.raises(ValidationError):
            RateLimitCommand.model_validate(body)


def test_a_429_carries_retry_after_in_whole_seconds() -> None:
    # Given a refusal that asks to wait 3 s, and one made without a wait (a throttled store)
    for error, expected in (
        (RateLimited("slow down", retry_after=3), "3"),
        (RateLimited("busy"), "1"),
    ):
        # When it is mapped to a response
        result = error_result(error, "req-1")
        # Then it is a 429 rate_limited with Retry-After
        assert result["statusCode"] == 429
        assert result["headers"]["Retry-After"] == expected
        assert json.loads(result["body"])["error"]["code"] == "rate_limited"
