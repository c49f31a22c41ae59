"""The SDK and the CLI for rate limits: setting one, and waiting out a 429's Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pointsnet.client import PointsNetClient, PointsNetError
from tests.unit.test_cli import Harness
from tests.unit.test_client import KEY_ID, SECRET, FakeApi, TickingClock, earned

RATE_LIMITED = {"error": {"code": "rate_limited", "message": "slow down", "request_id": "r-1"}}
PARTNER = {
    "partner_id": "beancafe",
    "name": "Bean Cafe",
    "program": "BEAN",
    "point_value": "0.004",
    "currency": "USD",
    "created_at": "2026-01-01T00:00:00Z",
    "rate_limit": {"rate": 50, "burst": 100},
}


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    fake.start()
    yield fake
    fake.stop()


def client_for(api: FakeApi, sleeps: list[float]) -> PointsNetClient:
    return PointsNetClient(
        api.base_url, KEY_ID, SECRET, clock=TickingClock(), sleep=sleeps.append, timeout=5
    )


def test_given_a_429_with_retry_after_when_posting_then_the_retry_waits_that_long(
    api: FakeApi,
) -> None:
    # Given the API refuses an earn with Retry-After: 2, then posts it
    api.answer(429, RATE_LIMITED, headers={"Retry-After": "2"})
    api.answer(201, earned())
    sleeps: list[float] = []
    # When the SDK earns
    result = client_for(api, sleeps).earn("m-1", 100, "order-1", idempotency_key="k-1")
    # Then it waited 2 s (and at most a tenth more) before the retry, under the same key
    assert result == earned()
    assert len(sleeps) == 1 and 2 <= sleeps[0] <= 2.2
    assert [seen.headers["idempotency-key"] for seen in api.seen] == ["k-1", "k-1"]


def test_given_a_429_asking_for_a_long_wait_when_calling_then_it_is_raised_at_once(
    api: FakeApi,
) -> None:
    # Given the API refuses with Retry-After: 120
    api.answer(429, RATE_LIMITED, headers={"Retry-After": "120"})
    sleeps: list[float] = []
    # When the SDK calls
    with pytest.raises(PointsNetError) as refused:
        client_for(api, sleeps).get_member("m-1")
    # Then it does not sleep two minutes: the error carries the wait for the caller
    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (
        429,
        "rate_limited",
        120,
    )
    assert sleeps == [] and len(api.seen) == 1


def test_given_a_429_without_retry_after_when_calling_then_the_backoff_is_exponential(
    api: FakeApi,
) -> None:
    # Given the API refuses once with a 429 that names no wait, then answers
    api.answer(429, RATE_LIMITED)
    api.answer(200, {"member_id": "m-1"})
    sleeps: list[float] = []
    # When the SDK calls
    client_for(api, sleeps).get_member("m-1")
    # Then it waited the first exponential backoff, with jitter
    assert len(sleeps) == 1 and 0.025 <= sleeps[0] <= 0.05


def test_given_set_rate_limit_when_called_then_it_puts_the_two_integers(api: FakeApi) -> None:
    # Given the API answers the partner with its new limit
    api.answer(200, PARTNER)
    # When the SDK sets beancafe's limit to 50 a second, bursts of 100
    partner = client_for(api, []).set_rate_limit("beancafe", 50, 100)
    # Then it PUTs the two integers, signed, and returns the partner's limit
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.json) == (
        "PUT",
        "/v1/partners/beancafe/rate-limit",
        {"rate": 50, "burst": 100},
    )
    assert seen.signature_ok
    assert partner["rate_limit"] == {"rate": 50, "burst": 100}


def test_given_partners_rate_limit_when_run_then_it_sets_it_with_an_admin_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the API answers the partner with its new limit
    harness = Harness()
    harness.client.answers.append(PARTNER)
    # When `pointsnet partners rate-limit beancafe 50 100` runs
    assert harness.run("partners", "rate-limit", "beancafe", "50", "100") == 0
    # Then it PUTs the limit with the admin key, and prints the partner's limit
    (call,) = harness.client.calls
    assert (call.method, call.path, call.json_body) == (
        "PUT",
        "/v1/partners/beancafe/rate-limit",
        {"rate": 50, "burst": 100},
    )
    assert harness.options[0].local_role == "admin"
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["partner_id", "name", "rate", "burst"]
    assert out[2].split() == ["beancafe", "Bean", "Cafe", "50", "100"]


def test_given_a_rate_that_is_not_a_number_when_run_then_the_cli_refuses_it() -> None:
    # Given a rate of "fast"
    harness = Harness()
    # When `pointsnet partners rate-limit beancafe fast 100` runs; Then it fails, calling nothing
    assert harness.run("partners", "rate-limit", "beancafe", "fast", "100") != 0
    assert harness.client.calls == []
