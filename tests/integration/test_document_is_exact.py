"""What the OpenAPI document allows the server accepts, and what it refuses the document refuses.

The cases a signed schemathesis run found (issue 12, item 5), each pinned both ways: by the
server's answer and by the document's own schema for that field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import jsonschema
import pytest

from pointsnet.api.openapi import network_openapi
from pointsnet.settlement.models import (
    FIRST_DAY,
    LAST_DAY,
    SETTLEMENT_ID_PATTERN,
    Period,
    settlement_id_for,
)
from tests.helpers import SignedCaller

DOCUMENT = network_openapi()


def body_schema(method: str, path: str) -> dict[str, Any]:
    content = DOCUMENT["paths"][path][method]["requestBody"]["content"]["application/json"]
    return {**content["schema"], "components": DOCUMENT["components"]}


def documented(method: str, path: str, body: dict[str, Any]) -> bool:
    validator = jsonschema.Draft202012Validator(
        body_schema(method, path), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return validator.is_valid(body)


PARTNER = {"partner_id": "beancafe", "name": "Bean Cafe", "program": "BEAN"}


@pytest.mark.parametrize(
    ("point_value", "accepted"),
    [("0.004", True), ("1", True), ("0", False), ("0.000", False), (0.004, False), ("-1", False)],
)
def test_a_point_value_is_accepted_exactly_when_the_document_allows_it(
    admin: SignedCaller, point_value: Any, accepted: bool
) -> None:
    # Given a new partner's body with a point value, string or float, positive or not
    body = PARTNER | {"point_value": point_value}
    # When a partner is created with this point value
    reply = admin.call("POST", "/v1/partners", body)
    # Then the server and the document agree on it
    assert documented("post", "/v1/partners", body) is accepted
    assert (reply.status == 201) is accepted, reply.body
    if not accepted:
        assert reply.code == "validation_error"


@pytest.mark.parametrize(
    ("rate", "accepted"),
    [
        ("0.25", True),
        ("1000000", True),
        ("0.000000000001", True),
        (0.25, False),
        (2, False),
        ("0", False),
        ("1000000.5", False),
        ("0.0000000000001", False),
        ("1e3", False),
    ],
)
def test_a_rate_is_a_decimal_string_in_the_document_as_on_the_server(
    admin: SignedCaller, rate: Any, accepted: bool
) -> None:
    # Given a rate, as a decimal string or not, in range or not
    body = {"rate": rate}
    # When the operator sets STAR to RIDE at that rate
    reply = admin.call("PUT", "/v1/rates/STAR/RIDE", body)
    # Then the server and the document agree on whether it is accepted
    assert documented("put", "/v1/rates/{from_program}/{to_program}", body) is accepted
    assert (reply.status == 200) is accepted, reply.body
    if not accepted:
        assert reply.code == "validation_error"


def test_a_rate_for_an_unknown_program_is_not_found(admin: SignedCaller) -> None:
    # Given no program NOPE
    # A well-formed program code that names no program is not an invalid request
    # When the operator sets a rate from STAR to NOPE
    reply = admin.call("PUT", "/v1/rates/STAR/NOPE", {"rate": "0.5"})
    # Then it is not found
    assert (reply.status, reply.code) == (404, "not_found")


@pytest.mark.parametrize(
    ("day", "accepted"),
    [
        ("2026-01-01", True),
        ("2024-02-29", True),
        ("2000-01-01", True),
        ("1999-12-31", False),
        ("0435-05-15", False),
        ("2100-01-01", False),
        ("2023-02-29", False),
        ("2026-1-01", False),
    ],
)
def test_a_settlement_day_is_bounded_in_the_document_as_on_the_server(
    admin: SignedCaller, day: str, accepted: bool
) -> None:
    # Given a settlement day, within the bounds or not, real or not
    # A period in the future is refused for another reason; only a past day's acceptance counts
    body = {"period_start": day, "period_end": day}
    # When the operator runs settlement for that day
    reply = admin.call("POST", "/v1/settlement-runs", body)
    # Then the server and the document agree on whether it is accepted
    assert documented("post", "/v1/settlement-runs", body) is accepted
    if accepted:
        assert reply.status in (201, 202), reply.body
    else:
        assert (reply.status, reply.code) == (422, "validation_error"), reply.body
        assert reply.body["error"]["details"][0]["field"].endswith("period_start")


@pytest.mark.parametrize("day", [FIRST_DAY, date(2026, 7, 4), LAST_DAY])
def test_every_settlement_id_matches_the_pattern_its_routes_take(day: date) -> None:
    # Given the first, a middle and the last day a settlement may cover
    # When a settlement of that day is named
    settlement_id = settlement_id_for(Period(period_start=day, period_end=day))
    # Then its id matches the pattern the settlement routes take
    assert re.fullmatch(SETTLEMENT_ID_PATTERN, settlement_id), settlement_id
