"""The served OpenAPI document says exactly what the server accepts (schemathesis, signed).

Every operation of the document GET /v1/openapi.json serves is called with generated,
schema-valid requests, each signed with a key of the role its function serves. The run
fails on any 5xx, any response the document does not describe, and any request the
document allows that the server refuses with `validation_error`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pointsnet import signing
from pointsnet.api.openapi import network_openapi
from pointsnet.idempotency import IDEMPOTENCY_HEADER
from pointsnet.local.runtime import LocalNetwork, local_network
from pointsnet.local.template import find_route, http_routes, load_template

# The last test reads what the run before it recorded: both run in order, alone.
pytestmark = pytest.mark.solo

# Enough to reach every field's edges in a short run: `make test` spends about 40 s here.
EXAMPLES_PER_OPERATION = 10
# Which of the demo network's keys may call each function's routes.
ROLE_OF_FUNCTION = {
    "PartnerApiFunction": ("starlodge", "partner"),
    "AdminApiFunction": ("network", "admin"),
    "FinanceApiFunction": ("network", "finance"),
    "ProgramsApiFunction": ("starlodge", "partner"),
}

config = schemathesis.Config.from_dict({"generation": {"mode": "positive"}})
schema = schemathesis.openapi.from_dict(network_openapi(), config=config)
ROUTES = http_routes(load_template())
# What each operation answered, to show the signed requests got past admission.
ANSWERS: dict[str, Counter[int]] = defaultdict(Counter)


class PointsNetSignature(requests.auth.AuthBase):
    """Signs the request exactly as it goes on the wire, with the key its route's role needs."""

    def __init__(self, network: LocalNetwork) -> None:
        self.network = network

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = requests.utils.urlparse(request.url)
        path = url.path or "/"
        found = find_route(ROUTES, str(request.method), path)
        partner_id, role = ROLE_OF_FUNCTION[found[0].function if found else "PartnerApiFunction"]
        key = self.network.key(partner_id, role)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers.update(
            signing.sign_request(
                key["secret"],
                key["key_id"],
                str(request.method),
                path,
                url.query,
                body,
                int(time.time()),
                idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
                version=2,
            )
        )
        return request


@pytest.fixture(scope="module")
def signed_session() -> Iterator[tuple[str, requests.Session]]:
    """Given a local network of one worker per function, and a session signing for it."""
    with local_network(port=0, workers=1, streams=False, schedules=False) as network:
        session = requests.Session()
        session.auth = PointsNetSignature(network)
        yield network.base_url, session
        session.close()


def breaks_a_documented_rule(case: Case) -> str | None:
    """Rules between fields (or against today) that the operations' descriptions state and
    JSON Schema cannot: a request breaking one is rightly a validation_error."""
    body = case.body if isinstance(case.body, dict) else {}
    path = case.path_parameters or {}
    route = f"{case.method.upper()} {case.path}"
    if route == "PUT /v1/partners/{partner_id}/rate-limit" and body["rate"] > body["burst"]:
        return "rate above burst"
    if route == "PUT /v1/partners/{partner_id}/policy" and body.get("tiers"):
        thresholds = [tier["min_points"] for tier in body["tiers"]]
        names = [tier["name"] for tier in body["tiers"]]
        ascending = all(low < high for low, high in itertools.pairwise(thresholds))
        if thresholds[0] != 0 or not ascending or len(set(names)) < len(names):
            return "tiers not from 0, ascending, uniquely named"
    if route == "POST /v1/settlement-runs":
        start, end = (date.fromisoformat(body[name]) for name in ("period_start", "period_end"))
        if not start <= end <= datetime.now(UTC).date() or (end - start).days >= 366:
            return "period not ordered, in the past and within 366 days"
    if route == "GET /v1/programs/{program}/metrics":
        query = case.query or {}
        start, end = (date.fromisoformat(query[name]) for name in ("period_start", "period_end"))
        if not start <= end <= datetime.now(UTC).date() or (end - start).days >= 92:
            return "period not ordered, in the past and within 92 days"
    if route in EARN_ROUTES and (reason := _earn_breaks(body)):
        return reason
    if route == "POST /v1/earn-batches":
        earns = body.get("earns") or []
        references = [earn.get("reference") for earn in earns]
        if len(set(references)) < len(references):
            return "a batch repeating a reference"
        if reason := next((why for earn in earns if (why := _earn_breaks(earn))), None):
            return f"an earn of the batch: {reason}"
    if route == "POST /v1/members/{member_id}/referrals" and (
        body["referred_member_id"] == path.get("member_id")
    ):
        return "a member referring itself"
    if route == "PUT /v1/programs/{program}/earning-rules" and (reason := _rules_break(body)):
        return reason
    if route == "GET /v1/statements":
        query = case.query or {}
        start, end = (date.fromisoformat(query[name]) for name in ("period_start", "period_end"))
        if not start <= end or (end - start).days >= 366:
            return "period not ordered and within 366 days"
    if (
        route == "GET /v1/settlements/{settlement_id}/report"
        and (case.query or {}).get("detail")
        and (case.query or {}).get("format", "json") != "csv"
    ):
        return "the line detail is a CSV only"
    if route == "PUT /v1/webhooks":
        # Whether a URL's host resolves, and only to public addresses, no schema can say.
        return "a URL the network may not call"
    if route == "PUT /v1/rates/{from_program}/{to_program}" and len(set(path.values())) == 1:
        return "a rate from a program to itself"
    if route == "POST /v1/quotes" and body["from_program"] == body["to_program"]:
        return "an exchange within one program"
    if route == "POST /v1/links" and body["partner_program"] == "STAR":
        return "a link to the caller's own program"
    return None


# The earn body's rules between fields, stated in its description (EarnCommand).
EARN_ROUTES = {
    "POST /v1/members/{member_id}/earn",
    "POST /v1/programs/{program}/earning-rules/preview",
}


def _earn_breaks(body: dict[str, Any]) -> str | None:
    given = [name for name in ("points", "amount", "action") if body.get(name) is not None]
    if len(given) != 1:
        return "not exactly one of points, amount or action"
    if body.get("items") is not None:
        if body.get("amount") is None:
            return "items without an amount"
        if sum(Decimal(item["amount"]) for item in body["items"]) != Decimal(body["amount"]):
            return "items not summing to the amount"
    if body.get("action") is not None and body.get("pending"):
        return "a pending action earn"
    return None


def _rules_break(body: dict[str, Any]) -> str | None:
    """The rule set's documented rules (docs/earning-rules.md): ids unique, windows forward,
    a multiplier over a per_amount rule, one rule per action, at most one referral and one
    comeback."""
    rules = body["rules"]
    if len({rule["rule_id"] for rule in rules}) < len(rules):
        return "a rule id used twice"
    for rule in rules:
        start, end = rule.get("active_from"), rule.get("active_until")
        if start and end and datetime.fromisoformat(end) <= datetime.fromisoformat(start):
            return "a window that does not move forward"
        if rule["type"] == "multiplier" and not any(
            other["type"] == "per_amount"
            and (rule.get("category") is None or other.get("category") in (None, rule["category"]))
            for other in rules
        ):
            return "a multiplier with no per_amount rule to multiply"
    actions = [rule["action"] for rule in rules if rule["type"] == "action"]
    kinds = Counter(rule["type"] for rule in rules)
    if len(set(actions)) < len(actions) or kinds["referral"] > 1 or kinds["comeback"] > 1:
        return "two rules for one action, referral or comeback"
    return None


def _refused_by_rules_in_force(details: list[dict[str, str]]) -> bool:
    """Whether the refusal comes from the program's rule set in force, which the run itself
    replaces (PUT earning-rules): no rules, none giving points, no referral rule, a tier the
    program lacks. The document states these (docs/earning-rules.md); a schema cannot."""
    state_refusals = (
        "no earning rules",
        "required: no earning rules",
        "the earning rules give 0 points",
        "gives more than",
        "no referral rule",
        "unknown tier",
    )
    return bool(details) and all(d["message"].startswith(state_refusals) for d in details)


def _whole_floats_only(case: Case, details: list[dict[str, str]]) -> bool:
    """Whether every refused field is an integer written with a fraction (288.0).

    JSON Schema's `integer` admits 288.0; the server takes only integers written as such
    (tests/integration/test_strict_fields.py), a difference no JSON Schema keyword can state.
    """
    body = case.body if isinstance(case.body, dict) else {}
    for detail in details:
        value: Any = body
        for part in detail["field"].split(".")[1:]:
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = value.get(part) if isinstance(value, dict) else None
        if not (isinstance(value, float) and value.is_integer()):
            return False
    return bool(details)


def refuses_valid_request(ctx: Any, response: Any, case: Case) -> bool | None:
    """A request the document allows is never refused as invalid."""
    if response.status_code != 422:
        return None
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if error["code"] != "validation_error" or breaks_a_documented_rule(case):
        return None
    details = error.get("details") or []
    if _whole_floats_only(case, details) or _refused_by_rules_in_force(details):
        return None
    raise AssertionError(f"a schema-valid request was refused with validation_error: {error}")


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_does_what_the_document_says(
    case: Case, signed_session: tuple[str, requests.Session]
) -> None:
    # Given a schema-valid request and a session that signs for the local network (the fixture)
    base_url, session = signed_session
    # When a schema-valid request is signed and sent
    response = case.call(base_url=base_url, session=session)
    ANSWERS[f"{case.method.upper()} {case.path}"][response.status_code] += 1
    # Then the answer is one the document describes, never a 5xx, never validation_error
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            refuses_valid_request,
        ],
    )


def test_the_signed_requests_were_admitted_by_every_operation() -> None:
    """Guards the run above from passing vacuously: a 401 or 403 for everything is documented."""
    # Given the answers the run above recorded for each operation
    if not ANSWERS:
        pytest.skip("the schemathesis run did not run in this session")
    # When they are read by operation
    # Then every operation answered at least once past the signature, role and rate checks
    refused_at_the_door = {401, 403, 429}
    for method, path, _ in schema_operations():
        answered = ANSWERS[f"{method} {path}"]
        assert set(answered) - refused_at_the_door, (method, path, dict(answered))


def schema_operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in network_openapi()["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation
