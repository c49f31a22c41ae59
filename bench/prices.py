"""AWS on-demand list prices (us-east-1) the cost figures use, and the cost of one request."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Prices:
    dynamodb_write_per_million: Decimal = Decimal("0.625")
    dynamodb_read_per_million: Decimal = Decimal("0.125")
    lambda_request_per_million: Decimal = Decimal("0.20")
    lambda_gb_second_arm64: Decimal = Decimal("0.0000133334")
    lambda_gb_second_x86_64: Decimal = Decimal("0.0000166667")
    http_api_per_million: Decimal = Decimal("1.00")
    rest_api_per_million: Decimal = Decimal("3.50")

    def gb_second(self, architecture: str) -> Decimal:
        return (
            self.lambda_gb_second_arm64 if architecture == "arm64" else self.lambda_gb_second_x86_64
        )

    def api_per_million(self, api_type: str) -> Decimal:
        return self.rest_api_per_million if api_type == "REST" else self.http_api_per_million

    def describe(self) -> str:
        return (
            f"DynamoDB ${self.dynamodb_write_per_million}/M write units, "
            f"${self.dynamodb_read_per_million}/M read units; "
            f"Lambda ${self.lambda_request_per_million}/M requests, "
            f"${self.lambda_gb_second_arm64}/GB-s arm64 (${self.lambda_gb_second_x86_64} x86); "
            f"API Gateway HTTP API ${self.http_api_per_million}/M, "
            f"REST API ${self.rest_api_per_million}/M (us-east-1 on-demand list prices)"
        )


LIST_PRICES = Prices()


@dataclass(frozen=True)
class CostPerMillion:
    dynamodb: Decimal
    lambda_requests: Decimal
    lambda_duration: Decimal
    api: Decimal

    @property
    def total(self) -> Decimal:
        return self.dynamodb + self.lambda_requests + self.lambda_duration + self.api


def cost_per_million(
    *,
    write_units: float,
    read_units: float,
    billed_ms: float,
    memory_mb: int,
    architecture: str,
    api_type: str,
    prices: Prices = LIST_PRICES,
) -> CostPerMillion:
    """Dollars per million requests, from units and billed milliseconds per request."""
    dynamodb = (
        Decimal(str(write_units)) * prices.dynamodb_write_per_million
        + Decimal(str(read_units)) * prices.dynamodb_read_per_million
    )
    gb_seconds = Decimal(str(billed_ms)) / 1000 * Decimal(memory_mb) / 1024
    return CostPerMillion(
        dynamodb=dynamodb,
        lambda_requests=prices.lambda_request_per_million,
        lambda_duration=gb_seconds * prices.gb_second(architecture) * MILLION,
        api=prices.api_per_million(api_type),
    )


def billed_ms(duration_ms: float) -> int:
    """Lambda bills each invocation's duration rounded up to the millisecond."""
    return max(1, math.ceil(duration_ms))


@dataclass(frozen=True)
class RunPrices:
    """What a reconciliation run and the journal pay besides DynamoDB and Lambda: S3 requests
    (bytes moved within the region are free) and Step Functions Standard state transitions
    (a Distributed Map's child executions count theirs too)."""

    s3_get_per_thousand: Decimal = Decimal("0.0004")
    s3_list_per_thousand: Decimal = Decimal("0.005")
    s3_put_per_thousand: Decimal = Decimal("0.005")
    step_functions_transition_per_thousand: Decimal = Decimal("0.025")

    def describe(self) -> str:
        return (
            f"S3 ${self.s3_get_per_thousand}/1,000 GET, ${self.s3_list_per_thousand}/1,000 LIST, "
            f"${self.s3_put_per_thousand}/1,000 PUT, transfer within the region free; "
            f"Step Functions Standard ${self.step_functions_transition_per_thousand}/1,000 "
            "state transitions (us-east-1 list prices)"
        )


RUN_PRICES = RunPrices()
