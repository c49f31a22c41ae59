"""The shape of the code: no module outside the tests needs more than a screenful to explain."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 500


def modules_over(limit: int, folders: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > limit
    ]


def test_no_module_outside_the_tests_is_over_500_lines() -> None:
    # Given the package, the functions and the benchmarks
    # When each module's lines are counted
    too_long = modules_over(MAX_MODULE_LINES, ("shared", "functions", "bench"))
    # Then none is over the limit
    assert too_long == []


def test_the_count_finds_a_module_over_the_limit() -> None:
    # Given a limit smaller than this very file
    # When the modules of the tests folder are counted against it
    too_long = modules_over(10, ("tests/unit",))
    # Then this file is named
    assert any(entry.startswith("tests/unit/test_house.py") for entry in too_long)
