"""Merging the functions' OpenAPI documents into the network's one document."""

from __future__ import annotations

from typing import Any

import pytest

from pointsnet.api.openapi import OpenApiConflict, describe_contract, merge_documents

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


def document(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "PointsNet API", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def operation(ref: str) -> dict[str, Any]:
    return {
        "responses": {"200": {"content": {"application/json": {"schema": {"$ref": ref}}}}},
    }


def test_given_two_apps_when_merged_then_paths_and_schemas_of_both_are_kept() -> None:
    # Given the partner app's document and the admin app's, both with ErrorEnvelope
    partner = document(
        {"/v1/members/{member_id}": {"get": operation("#/components/schemas/Member")}},
        {"Member": {"type": "object"}, "ErrorEnvelope": {"type": "object"}},
    )
    admin = document(
        {"/v1/partners": {"get": operation("#/components/schemas/PartnerList")}},
        {"PartnerList": {"type": "object"}, "ErrorEnvelope": {"type": "object"}},
    )
    # When they are merged
    merged = merge_documents([partner, admin])
    # Then both apps' paths and schemas are kept, shared ones once, with the first's info
    assert list(merged["paths"]) == ["/v1/members/{member_id}", "/v1/partners"]
    assert list(merged["components"]["schemas"]) == ["ErrorEnvelope", "Member", "PartnerList"]
    assert merged["info"] == partner["info"]


def test_given_two_apps_on_one_path_when_merged_then_their_methods_are_joined() -> None:
    # Given one app that reads /v1/partners and another that writes to it
    reader = document({"/v1/partners": {"get": operation("#/components/schemas/A")}}, {})
    writer = document({"/v1/partners": {"post": operation("#/components/schemas/A")}}, {})
    # When they are merged
    # Then the path has both methods
    assert set(merge_documents([reader, writer])["paths"]["/v1/partners"]) == {"get", "post"}


def test_given_one_operation_in_two_apps_when_merged_then_it_is_a_conflict() -> None:
    # Given two apps that both declare GET /v1/rates
    one = document({"/v1/rates": {"get": operation("#/components/schemas/A")}}, {})
    # When they are merged
    # Then the merge is refused naming the operation
    with pytest.raises(OpenApiConflict, match="GET /v1/rates"):
        merge_documents([one, one])


def test_given_one_schema_name_defined_two_ways_when_merged_then_it_is_a_conflict() -> None:
    # Given two apps that define the Rate schema differently
    first = document({}, {"Rate": {"type": "object"}})
    second = document({}, {"Rate": {"type": "string"}})
    # When they are merged
    # Then the merge is refused naming the schema
    with pytest.raises(OpenApiConflict, match="Rate"):
        merge_documents([first, second])


def test_given_a_post_when_described_then_it_needs_an_idempotency_key() -> None:
    # Given a document with a POST to /v1/quotes
    # When it is described as the contract
    described = describe_contract(
        document({"/v1/quotes": {"post": operation("#/components/schemas/Quote")}}, {"Quote": {}})
    )
    # Then the POST requires an Idempotency-Key header
    parameters = described["paths"]["/v1/quotes"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
        ("Idempotency-Key", "header", True)
    ]


def test_given_powertools_validation_errors_when_described_then_the_envelope_replaces_them() -> (
    None
):
    # Given a public health check and a signed route, each with Powertools' 422 response
    powertools_422 = {
        "422": {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        }
    }
    # When the document is described as the contract
    described = describe_contract(
        document(
            {
                "/v1/health": {"get": {"responses": dict(powertools_422)}},
                "/v1/rates": {"get": {"responses": dict(powertools_422)}},
            },
            {
                "HTTPValidationError": {"$ref": "#/components/schemas/ValidationError"},
                "ValidationError": {},
                "ErrorEnvelope": {},
            },
        )
    )
    # Then the public health check needs no signature and documents no validation error
    assert described["paths"]["/v1/health"]["get"] == {"responses": {}, "security": []}
    # And a signed route's 422 is the error envelope; unreferenced schemas are dropped
    rates_422 = described["paths"]["/v1/rates"]["get"]["responses"]["422"]
    assert rates_422["content"]["application/json"]["schema"] == ENVELOPE
    assert list(described["components"]["schemas"]) == ["ErrorEnvelope"]
