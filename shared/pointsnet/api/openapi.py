"""The OpenAPI document, generated from the same models the routes validate with."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from pointsnet import __version__

TITLE = "PointsNet API"
DESCRIPTION = (
    "Requests under /v1 are signed with HMAC-SHA256 (see docs/signing.md): "
    "X-PN-Key-Id, X-PN-Timestamp and X-PN-Signature. Every POST carries an Idempotency-Key. "
    'Errors have the body {"error": {"code", "message", "request_id"}}.'
)
SECURITY_SCHEMES = {
    "PointsNetKeyId": APIKey(name="X-PN-Key-Id", in_=APIKeyIn.header),
    "PointsNetTimestamp": APIKey(name="X-PN-Timestamp", in_=APIKeyIn.header),
    "PointsNetSignature": APIKey(name="X-PN-Signature", in_=APIKeyIn.header),
}
SECURITY: list[dict[str, list[str]]] = [
    {"PointsNetKeyId": [], "PointsNetTimestamp": [], "PointsNetSignature": []}
]


def openapi_json(app: APIGatewayHttpResolver) -> str:
    return app.get_openapi_json_schema(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        security=SECURITY,
    )


def serve_openapi(app: APIGatewayHttpResolver) -> None:
    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(status_code=200, content_type="application/json", body=openapi_json(app))
