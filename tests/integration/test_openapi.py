"""The one OpenAPI document: served, committed, complete, and loadable by schemathesis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from pointsnet.local.template import http_routes
from tests.helpers import TEMPLATE, SignedCaller

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
UNDOCUMENTED_ROUTES = {("GET", "/v1/openapi.json"), ("ANY", "/{proxy+}")}


@pytest.fixture
def served(starlodge: SignedCaller) -> dict[str, Any]:
    reply = starlodge.call("GET", "/v1/openapi.json", sign=False)
    assert reply.status == 200
    assert isinstance(reply.body, dict)
    return reply.body


def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return document


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def test_the_committed_document_is_the_served_one(served: dict[str, Any]) -> None:
    # Given the document the API serves; Then docs/openapi.json is exactly it
    # When it is compared with the committed one
    assert served == committed(), "docs/openapi.json is stale: run `make openapi`"


def test_the_document_covers_every_function_route_and_no_other() -> None:
    # Given every HttpApi route of every function in template.yaml
    routed = {
        (route.method, route.path)
        for route in http_routes(TEMPLATE)
        if (route.method, route.path) not in UNDOCUMENTED_ROUTES
    }
    # When they are compared with the committed document's operations
    # Then each is documented, and nothing is documented that API Gateway does not route
    assert set(operations(committed())) == routed


def test_signed_operations_declare_the_signature_headers_and_their_errors() -> None:
    # Given the committed document
    document = committed()
    # When its security schemes and each operation's security are read
    # Then the three X-PN headers are required everywhere but the health check,
    # and a refused signature is answered with the error envelope
    schemes = document["components"]["securitySchemes"]
    assert {scheme["name"] for scheme in schemes.values()} == {
        "X-PN-Key-Id",
        "X-PN-Timestamp",
        "X-PN-Signature",
    }
    assert all(
        scheme["type"] == "apiKey" and scheme["in"] == "header" for scheme in schemes.values()
    )
    assert document["security"] == [{name: [] for name in schemes}]
    for (method, path), operation in operations(document).items():
        if (method, path) == ("GET", "/v1/health"):
            assert operation["security"] == []
            continue
        assert "security" not in operation, f"{method} {path} overrides the signature"
        unauthorised = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert unauthorised == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)


def test_every_operation_documents_its_success_body() -> None:
    # Given every operation; Then it has one 2xx answer (201 for a POST) with a JSON schema
    # When each operation's responses are read
    for (method, path), operation in operations(committed()).items():
        successes = {status: r for status, r in operation["responses"].items() if status < "300"}
        # A settlement run that outlasts its request answers 202 with the run to follow.
        posted = ["201", "202"] if path == "/v1/settlement-runs" else ["201"]
        if path == "/v1/imports/{import_id}/start":
            posted = ["202"]  # an import runs on: it answers the import to follow
        if path.endswith("/earning-rules/preview"):
            posted = ["200"]  # a preview posts nothing: the contract answers it 200
        assert list(successes) == (posted if method == "POST" else ["200"]), (method, path)
        for success in successes.values():
            assert success["content"]["application/json"]["schema"], (method, path)


def test_every_post_declares_its_idempotency_key() -> None:
    # Given every operation of the committed document
    # When its header parameters are read
    # Then it takes an Idempotency-Key exactly when it is a POST
    for (method, path), operation in operations(committed()).items():
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert ("Idempotency-Key" in headers) == (method == "POST"), (method, path)


def test_the_error_body_is_described_with_its_codes() -> None:
    # Given the committed document
    document = committed()
    # When its error schemas and description are read
    # Then an error has a code, a message and a request id, and the codes are described
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    body = document["components"]["schemas"]["ErrorBody"]
    assert envelope["required"] == ["error"]
    assert set(body["required"]) == {"code", "message", "request_id"}
    for code in ("unknown_key", "idempotency_key_reused", "insufficient_points", "forbidden"):
        assert f"`{code}`" in document["info"]["description"]
    # And Powertools' own validation-error shape, which the API never answers, is gone
    assert "HTTPValidationError" not in json.dumps(document)


def test_schemathesis_loads_the_document_and_every_operation() -> None:
    # Given the committed document
    # When schemathesis loads it
    schema = schemathesis.openapi.from_dict(committed())
    loaded = list(schema.get_all_operations())
    # Then every operation loads, none failing, and none is missing
    failures = [result for result in loaded if not result.ok()]
    assert not failures
    labels = {result.ok().label for result in loaded}
    assert {"POST /v1/partners", "DELETE /v1/partners/{partner_id}/keys/{key_id}"} <= labels
    assert len(labels) == len(operations(committed()))


def test_requests_generated_from_the_document_get_contract_answers(admin: SignedCaller) -> None:
    # Given bodies schemathesis generates for the admin POSTs from the committed document
    schema = schemathesis.openapi.from_dict(committed())
    answers: list[tuple[str, int, str | None]] = []

    @given(case=schema["/v1/partners"]["POST"].as_strategy())
    @settings(
        max_examples=15, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    def create_partner(case: Any) -> None:
        reply = admin.call("POST", "/v1/partners", case.body)
        answers.append(("POST /v1/partners", reply.status, reply.code))

    @given(case=schema["/v1/partners/{partner_id}/keys"]["POST"].as_strategy())
    @settings(
        max_examples=10, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    def issue_key(case: Any) -> None:
        path = f"/v1/partners/{case.path_parameters['partner_id']}/keys"
        reply = admin.call("POST", path, case.body)
        answers.append((path, reply.status, reply.code))

    # When the admin sends them, signed
    create_partner()
    issue_key()
    # Then every answer is one the document promises: never a 500
    assert answers
    assert all(status in (201, 404, 409, 422) for _, status, _ in answers), answers


def test_every_id_in_a_path_is_documented_as_not_found_when_it_names_nothing() -> None:
    # Given every path parameter of every operation of the committed document
    path_parameters = [
        (method, path, parameter)
        for (method, path), operation in operations(committed()).items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    ]
    # When their descriptions and their operations' 404 answers are read
    # Then each says a value naming nothing (or breaking its pattern) is 404 not_found, as
    # the server answers it (tests/integration/test_bad_input.py), never validation_error
    assert len(path_parameters) >= 30
    for method, path, parameter in path_parameters:
        broken = ", or breaks this pattern," if "pattern" in parameter["schema"] else ""
        said = f"A value that names nothing{broken} is answered 404 `not_found`."
        assert parameter["description"].endswith(said), (method, path, parameter)
        answers = operations(committed())[(method, path)]["responses"]
        assert "malformed" in answers["404"]["description"], (method, path)
