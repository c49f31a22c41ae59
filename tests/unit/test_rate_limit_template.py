"""template.yaml and the README for rate limits: the admin route, the lease permission, the
reserved concurrency that is off by default, and the defaults the README states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pointsnet.local.template import find_route, http_routes, load_template
from pointsnet.partners.rate_limits import DEFAULT_RATE_LIMIT

TEMPLATE = load_template()
README = Path(__file__).resolve().parents[2] / "README.md"
API_FUNCTIONS = ("PartnerApiFunction", "AdminApiFunction", "FinanceApiFunction")


def test_the_admin_function_serves_put_rate_limit() -> None:
    # Given the template's routes
    # When a PUT to a partner's rate limit is matched
    found = find_route(http_routes(TEMPLATE), "PUT", "/v1/partners/starlodge/rate-limit")
    # Then the admin function serves it, with the partner's id as a path parameter
    assert found is not None
    route, params = found
    assert route.function == "AdminApiFunction"
    assert params == {"partner_id": "starlodge"}


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_every_api_function_may_update_the_partners_budget_items(function: str) -> None:
    # Given an API function's IAM policy statements
    statements = [
        statement
        for policy in TEMPLATE["Resources"][function]["Properties"]["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]
    # When they are searched for an UpdateItem on the directory table
    # Then one grants it, so the function may take a lease of the partner's budget
    assert any(
        "dynamodb:UpdateItem" in statement["Action"]
        and statement["Resource"] == {"Fn::GetAtt": ["DirectoryTable", "Arn"]}
        for statement in statements
    )


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_reserved_concurrency_is_a_parameter_left_out_by_default(function: str) -> None:
    # Given the function's ReservedConcurrentExecutions
    reserved = TEMPLATE["Resources"][function]["Properties"]["ReservedConcurrentExecutions"]
    # When its Fn::If is read
    condition, value, otherwise = reserved["Fn::If"]
    parameter = value["Ref"]
    # Then it is the parameter when its condition holds and no property at all otherwise
    assert otherwise == {"Ref": "AWS::NoValue"}
    # And the condition holds only when the parameter is not -1, its default
    assert TEMPLATE["Conditions"][condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, "-1"]}]
    }
    assert TEMPLATE["Parameters"][parameter]["Default"] == -1


def test_the_readme_states_the_default_rate_limit() -> None:
    # Given the README
    text = README.read_text(encoding="utf-8")
    # When it is searched for the default rate and burst
    # Then they are stated, and are the code's defaults
    stated = re.search(r"defaults are rate (\d+), burst (\d+)", text)
    assert stated is not None, "README.md must state the default rate limit"
    assert (int(stated[1]), int(stated[2])) == (DEFAULT_RATE_LIMIT.rate, DEFAULT_RATE_LIMIT.burst)
