"""The one table `python -m bench` prints, in Markdown so the README can quote it as it is."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

NOT_MEASURED = "—"


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    target: str = NOT_MEASURED
    verdict: str = NOT_MEASURED


def render_table(rows: Sequence[Row]) -> str:
    header = ("figure", "measured", "target", "met?")
    cells = [header, *((row.figure, row.measured, row.target, row.verdict) for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(header))]

    def line(values: Sequence[str]) -> str:
        padded = (value.ljust(width) for value, width in zip(values, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), rule, *(line(values) for values in cells[1:])])


def at_most(value: float, target: float, unit: str = "", digits: int = 2) -> str:
    """Verdict for a figure that should not exceed its target."""
    if value <= target:
        return "met"
    excess = value - target
    relative = f" (+{excess / target:.0%})" if target else ""
    return f"missed by {_number(excess, digits)}{unit}{relative}"


def at_least(value: float, target: float, unit: str = "", digits: int = 2) -> str:
    if value >= target:
        return "met"
    short = target - value
    return f"missed by {_number(short, digits)}{unit} ({value / target:.0%} of target)"


def dollars(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01'))}"


def units(value: float) -> str:
    return _number(value, 2)


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def machine() -> str:
    cores = os.cpu_count() or 0
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{cores} cores, Python {platform.python_version()} ({sys.implementation.name}), "
        f"{platform.platform()}, {platform.machine()}; load average {load} at the end of the run"
    )


def latest_markdown(table: str, notes: Sequence[str], command: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark: latest run",
        "",
        f"`{command}` on {stamp}.",
        "",
        f"Machine: {machine()}.",
        "",
        table,
        "",
        *(f"- {note}" for note in notes),
        "",
    ]
    return "\n".join(lines)
