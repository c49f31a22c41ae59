"""The benchmark's cost per million requests, worked out by hand from the stated list prices.

us-east-1 on-demand: DynamoDB $0.625/M write units and $0.125/M read units; Lambda $0.20/M
requests and $0.0000133334 (arm64) or $0.0000166667 (x86_64) per GB-second; API Gateway
$1.00/M (HTTP API) or $3.50/M (REST API).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from bench.prices import LIST_PRICES, Prices, billed_ms, cost_per_million


def test_cost_of_an_arm64_http_request_is_the_sum_of_its_list_prices() -> None:
    # Given 4 write units and 1.5 read units per request, 37 billed ms at 512 MB on arm64
    # When the cost per million requests is worked out
    cost = cost_per_million(
        write_units=4,
        read_units=1.5,
        billed_ms=37,
        memory_mb=512,
        architecture="arm64",
        api_type="HTTP",
    )
    # Then DynamoDB: 4 x 0.625 + 1.5 x 0.125 = 2.5 + 0.1875 = 2.6875
    assert cost.dynamodb == Decimal("2.6875")
    # Lambda requests: 0.20
    assert cost.lambda_requests == Decimal("0.20")
    # Lambda duration: 0.037 s x 0.5 GB = 0.0185 GB-s; x 0.0000133334 = 0.0000002466679 per
    # request; x 1,000,000 = 0.2466679
    assert cost.lambda_duration == Decimal("0.2466679")
    # HTTP API: 1.00
    assert cost.api == Decimal("1.00")
    # Total: 2.6875 + 0.20 + 0.2466679 + 1.00 = 4.1341679
    assert cost.total == Decimal("4.1341679")


def test_cost_of_an_x86_rest_request_uses_the_x86_and_rest_prices() -> None:
    # Given no DynamoDB work, 100 billed ms at 1024 MB on x86_64 behind a REST API
    # When a million such requests are priced
    cost = cost_per_million(
        write_units=0,
        read_units=0,
        billed_ms=100,
        memory_mb=1024,
        architecture="x86_64",
        api_type="REST",
    )
    # Then duration: 0.1 s x 1 GB = 0.1 GB-s; x 0.0000166667 x 1,000,000 = 1.66667
    assert cost.lambda_duration == Decimal("1.66667")
    assert cost.api == Decimal("3.50")
    # Total: 0 + 0.20 + 1.66667 + 3.50 = 5.36667
    assert cost.total == Decimal("5.36667")


def test_fractional_units_and_milliseconds_are_priced_exactly() -> None:
    # Given a mean of 0.1 write and 0.3 read units and 37.5 billed ms at 128 MB on arm64
    # When a million such requests are priced
    cost = cost_per_million(
        write_units=0.1,
        read_units=0.3,
        billed_ms=37.5,
        memory_mb=128,
        architecture="arm64",
        api_type="HTTP",
    )
    # Then DynamoDB: 0.1 x 0.625 + 0.3 x 0.125 = 0.0625 + 0.0375 = 0.1000, with no binary
    # float residue
    assert cost.dynamodb == Decimal("0.1")
    # Duration: 0.0375 s x 0.125 GB = 0.0046875 GB-s; x 0.0000133334 = 0.0000000625003125;
    # x 1,000,000 = 0.0625003125
    assert cost.lambda_duration == Decimal("0.0625003125")


def test_other_prices_can_be_passed_in() -> None:
    # Given a price list with writes at $1.25/M and GB-seconds on arm64 at $0.00002
    prices = Prices(
        dynamodb_write_per_million=Decimal("1.25"),
        lambda_gb_second_arm64=Decimal("0.00002"),
    )
    # When a million requests are priced with it
    cost = cost_per_million(
        write_units=2,
        read_units=0,
        billed_ms=1000,
        memory_mb=1024,
        architecture="arm64",
        api_type="HTTP",
        prices=prices,
    )
    # Then 2 x 1.25 = 2.50 for DynamoDB and 1 GB-s x 0.00002 x 1,000,000 = 20 for duration
    assert cost.dynamodb == Decimal("2.50")
    assert cost.lambda_duration == Decimal("20")
    # And the list prices themselves are left alone
    assert LIST_PRICES.dynamodb_write_per_million == Decimal("0.625")


@pytest.mark.parametrize(
    ("duration_ms", "expected"),
    [(0.0, 1), (0.2, 1), (1.0, 1), (1.001, 2), (36.01, 37), (37.0, 37)],
)
def test_lambda_bills_each_invocation_rounded_up_to_the_millisecond(
    duration_ms: float, expected: int
) -> None:
    # Given an invocation that ran for a fraction of a millisecond or more
    # When its billed duration is reckoned
    # Then it is rounded up to the whole millisecond, and never less than one
    assert billed_ms(duration_ms) == expected
