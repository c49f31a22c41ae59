"""What a command printed: its result as a table or as the API's JSON, and API errors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pointsnet.client import PointsNetError

OUTPUT_FORMATS = ("table", "json")

# A table column: a key, or (header, dotted path) such as ("available", "balance.available").
Column = str | tuple[str, str]


class Signed(int):
    """A number a table shows with its sign (+100, -30, 0), right-aligned like any number."""

    def __str__(self) -> str:
        return f"{int(self):+d}" if self else "0"


@dataclass(frozen=True)
class CommandOutput:
    """What a command produced: `data` is printed as JSON, `rows`/`columns` as a table."""

    data: Any
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[Column]
    footer: str | None = None
    # The command wrote its output as it went (e.g. `events tail --follow`).
    printed: bool = False


def format_api_error(error: PointsNetError) -> str:
    """`error: <code>: <message> (request <id>)`, then any details as JSON on a second line."""
    line = f"error: {error.code}: {error.message}"
    if error.request_id:
        line += f" (request {error.request_id})"
    if error.details:
        line += "\n  details: " + json.dumps(error.details, ensure_ascii=False, default=str)
    return line


def render_output(result: CommandOutput, output: str) -> str:
    """The text printed for a command's result in the chosen output format."""
    if output == "json":
        return json.dumps(result.data, indent=2, ensure_ascii=False, default=str) + "\n"
    text = render_table(result.rows, result.columns)
    if result.footer:
        text += result.footer + "\n"
    return text


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A plain-text table with aligned columns; numbers are right-aligned, missing cells blank."""
    headers = [column if isinstance(column, str) else column[0] for column in columns]
    paths = [column if isinstance(column, str) else column[1] for column in columns]
    raw_cells = [[_lookup(row, path) for path in paths] for row in rows]
    cells = [[_cell_text(value) for value in row] for row in raw_cells]
    widths = [
        max([len(header), *(len(row[index]) for row in cells)])
        for index, header in enumerate(headers)
    ]
    numeric = [
        bool(raw_cells) and all(_is_number(row[index]) or row[index] is None for row in raw_cells)
        for index in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    lines = [line(headers), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in cells)
    if not rows:
        lines.append("(none)")
    return "\n".join(lines) + "\n"


def _lookup(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)
