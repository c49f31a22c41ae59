"""Tests say Given / When / Then (STYLE.md, habit 6): this keeps the habit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
WORDS = ("Given", "When", "Then")


def silent_tests(root: Path) -> list[str]:
    """Each test function under root whose source lacks one of the three words."""
    lacking = []
    for path in sorted(root.rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not node.name.startswith("test_"):
                continue
            body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            missing = [word for word in WORDS if word not in body]
            if missing:
                where = path.relative_to(root.parent)
                lacking.append(f"{where}:{node.lineno} {node.name} lacks {', '.join(missing)}")
    return lacking


def test_a_test_without_given_when_then_is_found(tmp_path: Path) -> None:
    # Given one test that says Given / When / Then and one that does not
    (tmp_path / "test_sample.py").write_text(
        "def test_told():\n"
        "    # Given a member\n"
        "    # When they earn\n"
        "    # Then the balance grows\n"
        "    assert True\n"
        "\n"
        "def test_untold():\n"
        "    assert True\n",
        encoding="utf-8",
    )
    # When the tests are walked
    lacking = silent_tests(tmp_path)
    # Then only the silent test is named, with the words it lacks
    assert lacking == [f"{tmp_path.name}/test_sample.py:7 test_untold lacks Given, When, Then"]


def test_every_test_says_given_when_then() -> None:
    # Given every test module under tests/
    # When each test function's source is read
    lacking = silent_tests(TESTS)
    # Then each says Given, When and Then
    if lacking:
        pytest.fail("tests lacking Given / When / Then:\n" + "\n".join(lacking), pytrace=False)
