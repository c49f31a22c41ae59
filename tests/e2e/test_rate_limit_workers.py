"""The rate limit across instances: four local workers of each function share one partner's
budget, and over 10 s of load they accept within 10 % of `burst + rate x 10 s`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pointsnet.client import PointsNetClient, PointsNetError
from pointsnet.local.runtime import LocalNetwork, local_network

# Its load must exceed the limit: other tests beside it on two cores would slow it below.
pytestmark = pytest.mark.solo

RATE, BURST = 20, 20
SECONDS = 10.0
THREADS = 12


@pytest.fixture(scope="module")
def four_workers() -> Iterator[LocalNetwork]:
    """Given the local API with four warm workers per function (four instances each)."""
    with local_network(
        port=0, workers=4, warm_workers=4, streams=False, schedules=False
    ) as network:
        yield network


def test_four_workers_under_load_accept_at_most_a_tenth_over_the_limit_in_10_s(
    four_workers: LocalNetwork,
) -> None:
    # Given starlodge limited through the admin API to 20 requests a second, bursts of 20
    admin = four_workers.client("network", "admin")
    limited = admin.set_rate_limit("starlodge", RATE, BURST)
    assert limited["rate_limit"] == {"rate": RATE, "burst": BURST}
    key = four_workers.key("starlodge")
    accepted: list[float] = []
    refused: list[int | None] = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + SECONDS

    def hammer() -> None:
        # No retries: every answer is counted as it came.
        client = PointsNetClient(four_workers.base_url, key["key_id"], key["secret"], max_retries=0)
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                client.request("GET", "/v1/members/guest-1")
                status, retry_after = 200, None
            except PointsNetError as error:
                status, retry_after = error.status, error.retry_after
            with lock:
                if status == 429:
                    refused.append(retry_after)
                else:
                    accepted.append(sent)

    # When twelve client threads send its requests as fast as they can for 10 s
    threads = [threading.Thread(target=hammer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 30)
    # Then the four workers together accepted at most 1.1 x (burst + rate x 10 s), and at
    # least 80 % of it
    allowed = BURST + RATE * SECONDS
    assert len(accepted) <= 1.1 * allowed, (len(accepted), len(refused))
    assert len(accepted) >= 0.8 * allowed, (len(accepted), len(refused))
    # And the load was real: most requests were refused, each with Retry-After >= 1
    assert len(refused) > len(accepted)
    assert all(retry_after is not None and retry_after >= 1 for retry_after in refused)
    # And another partner is still served
    rideco = four_workers.key("rideco")
    client = PointsNetClient(
        four_workers.base_url, rideco["key_id"], rideco["secret"], max_retries=0
    )
    with pytest.raises(PointsNetError) as answer:
        client.request("GET", "/v1/members/rider-1")
    assert answer.value.status == 404  # an answer (no such member), not a refusal
    print(f"accepted {len(accepted)} of {len(accepted) + len(refused)} (limit allows {allowed:g})")
