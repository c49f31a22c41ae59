"""template.yaml is the one source of routes, tables and environment."""

from __future__ import annotations

from pointsnet.local.template import (
    LocalStack,
    find_route,
    functions,
    http_routes,
    load_template,
    table_definitions,
)

TEMPLATE = load_template()


def test_routes_come_from_the_template_and_match_like_api_gateway() -> None:
    # Given the template's HttpApi events
    routes = http_routes(TEMPLATE)
    # When requests are matched
    earn = find_route(routes, "POST", "/v1/members/m-1/earn")
    member = find_route(routes, "GET", "/v1/members/m.1@x:y")
    fallback = find_route(routes, "GET", "/v1/no/such/path")
    # Then the most specific route wins, with its path parameters
    assert earn is not None and earn[0].path == "/v1/members/{member_id}/earn"
    assert earn[1] == {"member_id": "m-1"}
    assert member is not None and member[1] == {"member_id": "m.1@x:y"}
    # And what nothing else matches reaches the greedy fallback
    assert fallback is not None and fallback[0].is_greedy


def test_a_route_of_another_method_does_not_match() -> None:
    # Given the template's routes, without the greedy fallback
    routes = [route for route in http_routes(TEMPLATE) if not route.is_greedy]
    # When a GET is matched against the earn path, which only takes POST
    # Then no route matches
    assert find_route(routes, "GET", "/v1/members/m-1/earn") is None


def test_tables_are_created_with_the_templates_key_schema() -> None:
    # Given the template, for a local stack named s
    # When its table definitions are built
    definitions = table_definitions(TEMPLATE, LocalStack(stack_name="s"))
    ledger = definitions["LedgerTable"]
    # Then the ledger table has the stack's name, the template's keys and its index
    assert ledger["TableName"] == "s-LedgerTable"
    assert [key["AttributeName"] for key in ledger["KeySchema"]] == ["pk", "sk"]
    assert "ByAccount" in [index["IndexName"] for index in ledger["GlobalSecondaryIndexes"]]


def test_function_environment_resolves_references() -> None:
    # Given the template, for a local stack named s
    # When the partner API function's environment is resolved
    env = functions(TEMPLATE, LocalStack(stack_name="s"))["PartnerApiFunction"].environment
    # Then Refs and Subs become the stack's table name and key prefix, literals stay
    assert env["LEDGER_TABLE"] == "s-LedgerTable"
    assert env["KEY_SECRET_PREFIX"] == "s/keys/"
    assert env["POWERTOOLS_SERVICE_NAME"] == "pointsnet"
