"""Every error code of the public contract maps to its status, in one place."""

from __future__ import annotations

import inspect

from pointsnet import errors
from pointsnet.api.errors import STATUS_BY_CODE

# API.md's error table, copied as the contract states it.
CONTRACT = {
    "invalid_json": 400,
    "missing_idempotency_key": 400,
    "missing_credentials": 401,
    "unknown_key": 401,
    "invalid_signature": 401,
    "stale_timestamp": 401,
    "forbidden": 403,
    "not_found": 404,
    "route_not_found": 404,
    "insufficient_points": 409,
    "request_in_progress": 409,
    "conflict": 409,
    "quote_expired": 410,
    "payload_too_large": 413,
    "validation_error": 422,
    "idempotency_key_reused": 422,
    "not_linked": 422,
    "rate_limited": 429,
    "internal_error": 500,
}


def test_the_status_table_is_the_contracts() -> None:
    # Given the error codes the contract lists with their HTTP statuses
    # When the status table is compared with them
    # Then it is exactly the contract's
    assert STATUS_BY_CODE == CONTRACT


def test_every_domain_error_has_a_contract_code() -> None:
    # Given every domain error class in pointsnet.errors
    # When their codes are gathered
    domain_errors = [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.PointsNetError)
    ]
    # Then there are as many errors as codes, and each error's code is in the contract
    assert len(domain_errors) >= len(CONTRACT)
    assert {cls.code for cls in domain_errors} <= set(CONTRACT)


def test_a_message_names_a_role_or_a_type_with_the_article_it_takes() -> None:
    # Given roles and transaction types, some starting with a vowel
    words = ["admin", "partner", "finance", "earn", "exchange", "expiry", "import", "hold"]
    # When each is put after its indefinite article
    named = [errors.with_article(word) for word in words]
    # Then a vowel takes "an", anything else "a"
    assert named == [
        "an admin",
        "a partner",
        "a finance",
        "an earn",
        "an exchange",
        "an expiry",
        "an import",
        "a hold",
    ]
