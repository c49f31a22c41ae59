"""The whole local network, once per session: emulator, demo partners and the HTTP API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pointsnet.local.runtime import LocalNetwork, local_network


@pytest.fixture(scope="session")
def local() -> Iterator[LocalNetwork]:
    """Given the local API on a free port, two workers, seeded with the demo network."""
    with local_network(port=0, workers=2) as network:
        yield network
