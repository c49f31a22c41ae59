"""Fixtures: every test that touches AWS runs on moto with tables built from template.yaml."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from pointsnet.local import moto_transactions
from pointsnet.local.template import functions, load_handler
from pointsnet.observability import metrics
from pointsnet.wiring import clear_caches
from tests.helpers import (
    PARTNER_FUNCTION_ENV,
    STACK,
    TEMPLATE,
    DemoNetwork,
    SignedCaller,
    create_buckets,
    create_tables,
    partner_directory,
    seed_partners,
)

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "PointsNetTest",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `-n 2 --dist loadgroup` (make test), the end-to-end tests run one after another
    on one worker: each starts a whole local network (emulator, workers, processes), and two
    at once on two cores would time each other out."""
    for item in items:
        if item.nodeid.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.xdist_group("e2e"))


def _clear_caches() -> None:
    clear_caches()


def _serialise_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """One in-process moto call at a time, as the local emulator serialises its server's.

    In-process moto has no locking of its own, and the reconciliation and audit check shards on
    a thread pool: two calls at once can change a backend's dict while another iterates it."""
    lock = threading.RLock()
    process = BotocoreStubber.__call__

    def serialised(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return process(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Given an empty AWS account (moto) with the template's tables and function environment."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (FAKE_AWS | PARTNER_FUNCTION_ENV).items():
        monkeypatch.setenv(name, value)
    # Powertools read its namespace when pointsnet.observability was imported, before this ran.
    monkeypatch.setattr(metrics, "namespace", FAKE_AWS["POWERTOOLS_METRICS_NAMESPACE"])
    _clear_caches()
    # The local emulator's transactions: an undo log, not a copy of every table per write.
    moto_transactions.install()
    _serialise_moto(monkeypatch)
    with mock_aws():
        create_tables()
        create_buckets()
        yield
    _clear_caches()


@pytest.fixture
def network(aws: None) -> DemoNetwork:
    """Given the demo partners starlodge (STAR) and rideco (RIDE) with a key each."""
    return seed_partners(partner_directory())


@pytest.fixture
def partner_handler(aws: None):  # type: ignore[no-untyped-def]
    return load_handler(functions(TEMPLATE, STACK)["PartnerApiFunction"])


@pytest.fixture
def starlodge(network: DemoNetwork, partner_handler) -> SignedCaller:  # type: ignore[no-untyped-def]
    return SignedCaller(partner_handler, network.starlodge)


@pytest.fixture
def rideco(network: DemoNetwork, partner_handler) -> SignedCaller:  # type: ignore[no-untyped-def]
    return SignedCaller(partner_handler, network.rideco)


@pytest.fixture
def admin_handler(aws: None):  # type: ignore[no-untyped-def]
    return load_handler(functions(TEMPLATE, STACK)["AdminApiFunction"])


@pytest.fixture
def admin(network: DemoNetwork, admin_handler) -> SignedCaller:  # type: ignore[no-untyped-def]
    """Given the network operator's admin key, calling the admin function."""
    return SignedCaller(admin_handler, network.admin)
