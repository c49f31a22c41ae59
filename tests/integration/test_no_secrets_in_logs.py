"""Neither a key's secret nor a request's signature ever reaches a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from pointsnet.observability import logger
from tests.helpers import SignedCaller


@pytest.fixture
def service_logs() -> Iterator[io.StringIO]:
    """Given the service logging everything it can, down to DEBUG, as JSON lines it would ship."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel("DEBUG")
    yield written
    logger.setLevel(level)
    logger.removeHandler(handler)


def test_secrets_and_signatures_stay_out_of_the_logs(
    service_logs: io.StringIO,
    admin: SignedCaller,
    starlodge: SignedCaller,
) -> None:
    # Given the service logging everything down to DEBUG (the fixture)
    # When an admin issues a key, a partner signs good and bad requests, and one fails
    issued = admin.call("POST", "/v1/partners/starlodge/keys", {"role": "partner"})
    assert issued.status == 201, issued.body
    good = starlodge.earn("guest-1", 10)
    bad = starlodge.call(
        "GET", "/v1/members/guest-1", headers={"X-PN-Signature": "v1=" + "ab" * 32}
    )
    assert (good.status, bad.status) == (201, 401)
    # Then the logs say what happened and who asked, but hold no secret and no signature
    text = service_logs.getvalue()
    assert "request refused" in text
    assert "pnk_" in text  # the key id is logged, which is what makes the check meaningful
    for secret in (issued.body["secret"], starlodge.key.secret):
        assert secret not in text
    assert "ab" * 32 not in text
