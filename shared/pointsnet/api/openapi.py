"""The network's one OpenAPI document, generated from the models the routes validate with.

Each Lambda function's app documents its own routes; `network_openapi` merges the apps of
`FUNCTION_APPS` into one document, which the partner function serves at GET /v1/openapi.json
and `make openapi` writes to docs/openapi.json. A new function adds its app factory there.

    python -m pointsnet.api.openapi docs/openapi.json
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from pointsnet import __version__
from pointsnet.api.errors import STATUS_BY_CODE
from pointsnet.idempotency import IDEMPOTENCY_HEADER, REPLAYED_HEADER
from pointsnet.signing import KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

# Every function's app, as "module:factory" (imported lazily: those modules import this one).
FUNCTION_APPS: tuple[str, ...] = (
    "pointsnet.api.partner:create_partner_app",
    "pointsnet.api.admin:create_admin_app",
    "pointsnet.api.finance:create_finance_app",
    "pointsnet.api.programs:create_programs_app",
)
# Routes that need no signature (pointsnet.api.resolver.PUBLIC_ROUTES, as OpenAPI keys).
PUBLIC_OPERATIONS = frozenset({("get", "/v1/health"), ("get", "/v1/openapi.json")})
# What Powertools documents for its own validation errors; ours have the error envelope.
POWERTOOLS_VALIDATION_REF = "#/components/schemas/HTTPValidationError"
ERROR_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"

TITLE = "PointsNet API"
SIGNING_SUMMARY = (
    "Every request under /v1 except GET /v1/health and GET /v1/openapi.json is signed with "
    f"the caller's API key: `{KEY_ID_HEADER}` (the key id), `{TIMESTAMP_HEADER}` (Unix "
    f"seconds, within 300 s of the server's clock) and `{SIGNATURE_HEADER}` (`v2=` and the "
    "hex HMAC-SHA256, keyed with the key's secret, of the seven lines `PN2-HMAC-SHA256`, the "
    "timestamp, the method, the path, the canonical query, the hex SHA-256 of the body and "
    f"the `{IDEMPOTENCY_HEADER}` value as sent (empty when none), joined by newlines). "
    "`v1=` over the first six lines with `PN1-HMAC-SHA256` is still accepted, except from a "
    "partner made v2-only; a v1 signature posts once: sent again under another "
    f"`{IDEMPOTENCY_HEADER}` it is refused 401 `invalid_signature`. docs/signing.md has a "
    "worked example, a curl script and the SDK."
)


def _description() -> str:
    codes = "\n".join(f"| {status} | `{code}` |" for code, status in STATUS_BY_CODE.items())
    return (
        "The PointsNet loyalty points network: partners, members, links, exchanges and keys.\n\n"
        f"**Signing.** {SIGNING_SUMMARY}\n\n"
        f"**Idempotency.** Every POST carries an `{IDEMPOTENCY_HEADER}` (1-255 printable ASCII "
        "characters), scoped to the calling partner. For 24 hours the same key with the same "
        f"body answers the first response again with `{REPLAYED_HEADER}: true`; with another "
        "body it answers 422 `idempotency_key_reused`. A key's secret is never answered twice: "
        "repeating a key issuance answers 409 `conflict`.\n\n"
        "**Rate limits.** All of a partner's keys share one limit (the finance and admin keys: "
        "partner `network`), `rate` requests a second with bursts up to `burst`, across every "
        "function; by default 100 and 200. A request over it is refused 429 `rate_limited` "
        "with `Retry-After` (whole seconds, at least 1) and changes nothing. An admin sets it "
        "with `PUT /v1/partners/{partner_id}/rate-limit`.\n\n"
        '**Errors.** Every error has the body `{"error": {"code", "message", "request_id"}}` '
        "(and `details` listing the fields of a `validation_error`) with a stable `code`. An "
        "id in a path that matches no resource, or no id's pattern, is 404 `not_found`, not a "
        "validation error: what cannot exist is not found.\n\n"
        "| status | code |\n| --- | --- |\n" + codes
    )


SECURITY: list[dict[str, list[str]]] = [
    {"PointsNetKeyId": [], "PointsNetTimestamp": [], "PointsNetSignature": []}
]
IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": True,
    "description": "Names this request: a retry with the same key never acts twice.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]{1,255}$"},
}


def _security_schemes() -> dict[str, Any]:
    # Imported here: Powertools' OpenAPI models cost a cold start every function would pay,
    # and only the document's own route uses them.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    return {
        "PointsNetKeyId": APIKey(
            name=KEY_ID_HEADER, in_=APIKeyIn.header, description="The API key's id."
        ),
        "PointsNetTimestamp": APIKey(
            name=TIMESTAMP_HEADER,
            in_=APIKeyIn.header,
            description="Unix time in whole seconds when the request was signed.",
        ),
        "PointsNetSignature": APIKey(
            name=SIGNATURE_HEADER, in_=APIKeyIn.header, description=SIGNING_SUMMARY
        ),
    }


class OpenApiConflict(Exception):
    """Two apps document the same operation, or one schema name two ways."""


def app_openapi(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """One app's own document, as Powertools generates it from the routes' models."""
    _document_success(app)
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=__version__,
            description=_description(),
            security_schemes=_security_schemes(),
            security=SECURITY,
        )
    )
    return document


def _document_success(app: APIGatewayHttpResolver) -> None:
    """Give a route that lists only its errors a 200 too, which Powertools fills from the
    route's return model (it documents no success of its own once `responses` is given)."""
    for route in app._static_routes + app._dynamic_routes:
        responses = route.responses or {}
        if not any(200 <= int(status) < 300 for status in responses):
            route.responses = {200: OpenAPIResponse(description="OK"), **responses}


def merge_documents(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One document with every path and schema of `documents`, the first's header kept."""
    if not documents:
        raise ValueError("no documents to merge")
    merged = {key: copy.deepcopy(value) for key, value in documents[0].items() if key != "paths"}
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for document in documents:
        for path, operations in document.get("paths", {}).items():
            merged_operations = paths.setdefault(path, {})
            for method, operation in operations.items():
                if method in merged_operations:
                    raise OpenApiConflict(f"{method.upper()} {path} is documented by two apps")
                merged_operations[method] = copy.deepcopy(operation)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != schema:
                raise OpenApiConflict(f"schema {name} is defined two ways")
            schemas[name] = copy.deepcopy(schema)
    merged["paths"] = dict(sorted(paths.items()))
    merged.setdefault("components", {})["schemas"] = dict(sorted(schemas.items()))
    return merged


def describe_contract(document: dict[str, Any]) -> dict[str, Any]:
    """Say what the routes' models cannot: public routes, Idempotency-Key, the error body."""
    for path, method, operation in _operations(document):
        if (method, path) in PUBLIC_OPERATIONS:
            operation["security"] = []
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "path":
                _describe_path_id(parameter)
        if method == "post":
            parameters = operation.setdefault("parameters", [])
            if not any(parameter.get("name") == IDEMPOTENCY_HEADER for parameter in parameters):
                parameters.append(copy.deepcopy(IDEMPOTENCY_PARAMETER))
        for status, response in list(operation.get("responses", {}).items()):
            if POWERTOOLS_VALIDATION_REF in json.dumps(response):
                if (method, path) in PUBLIC_OPERATIONS:
                    del operation["responses"][status]
                else:
                    response["description"] = "validation_error"
                    response["content"] = {
                        "application/json": {"schema": {"$ref": ERROR_ENVELOPE_REF}}
                    }
    _drop_unreferenced_schemas(document)
    return document


def _describe_path_id(parameter: dict[str, Any]) -> None:
    """A path id names a resource: one that names nothing, its pattern broken included, is
    answered 404 `not_found` (pointsnet.api.resolver), never a validation error."""
    broken = ", or breaks this pattern," if "pattern" in parameter.get("schema", {}) else ""
    said = f"A value that names nothing{broken} is answered 404 `not_found`."
    own = str(parameter.get("description") or "").rstrip(".")
    parameter["description"] = f"{own}. {said}" if own else said


def network_openapi(
    factories: Sequence[Callable[[], APIGatewayHttpResolver]] | None = None,
) -> dict[str, Any]:
    """The document of every function's routes."""
    apps = [factory() for factory in (factories or function_app_factories())]
    return describe_contract(merge_documents([app_openapi(app) for app in apps]))


@lru_cache(maxsize=1)
def network_openapi_json() -> str:
    """The served and committed text of the network's document."""
    return json.dumps(network_openapi(), indent=2, ensure_ascii=False) + "\n"


def function_app_factories() -> list[Callable[[], APIGatewayHttpResolver]]:
    factories = []
    for reference in FUNCTION_APPS:
        module_name, _, attribute = reference.partition(":")
        factories.append(getattr(importlib.import_module(module_name), attribute))
    return factories


def serve_openapi(app: APIGatewayHttpResolver) -> None:
    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(
            status_code=200, content_type="application/json", body=network_openapi_json()
        )


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            yield path, method, operation


def _drop_unreferenced_schemas(document: dict[str, Any]) -> None:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    reachable: set[str] = set()
    pending = list(_refs(document.get("paths", {})))
    while pending:
        name = pending.pop()
        if name in reachable or name not in schemas:
            continue
        reachable.add(name)
        pending.extend(_refs(schemas[name]))
    for name in set(schemas) - reachable:
        del schemas[name]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.removeprefix("#/components/schemas/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the document to the path given, or to stdout."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = network_openapi_json()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
