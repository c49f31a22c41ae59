"""Adversarial tests: short settings in `make test`; their long runs only when asked for.

The long runs carry the `slow` marker (`make soak` runs `pytest -m slow`). Run without any
marker expression, as `pytest tests/adversarial` is, they are skipped rather than run for
many minutes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("markexpr"):
        return  # the caller chose by marker: `-m slow` runs them, `-m "not slow"` drops them
    skip = pytest.mark.skip(reason="a long run: `make soak` (pytest -m slow) runs it")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)
