"""The pieces the HTML report is made of: escaped text and markup, tables, and money and
times written as a person reads them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Markup(str):
    """Text already escaped: a cell that holds markup of its own."""


Cell = str | Markup


def readable_time(moment: datetime) -> str:
    """As a person reads it: 3 Dec 2026, 14:05 UTC."""
    utc = moment.astimezone(UTC)
    return f"{readable_day(utc.date())}, {utc:%H:%M} UTC"


def readable_day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def money(amount: Decimal, currency: str) -> str:
    return f"{amount} {currency}"


def signed_money(amount: Decimal, currency: str) -> str:
    """A net amount with its direction: +12.50 USD received, -12.50 USD paid."""
    return f"{amount:+} {currency}" if amount else f"{amount} {currency}"


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def text(value: str) -> str:
    return escape(value, quote=True)


def term(name: str, value: str) -> str:
    return f"<dt>{text(name)}</dt><dd>{text(value)}</dd>"


def cell(value: Cell) -> str:
    return value if isinstance(value, Markup) else text(value)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    numeric: set[int] | None = None,
    classes: dict[int, Callable[[str], str]] | None = None,
    total_last: bool = False,
) -> str:
    numeric = numeric or set()
    head = "".join(
        f"<th{class_attribute(['num'] if index in numeric else [])}>{text(header)}</th>"
        for index, header in enumerate(headers)
    )
    body = []
    for number, row in enumerate(rows, start=1):
        cells = []
        for index, value in enumerate(row):
            css = []
            if index in numeric:
                css.append("num")
            chooser = (classes or {}).get(index)
            if chooser is not None:
                css.append(chooser(value))
            cells.append(f"<td{class_attribute(css)}>{cell(value)}</td>")
        total = total_last and number == len(rows)
        body.append(f"<tr{class_attribute(['total'] if total else [])}>" + "".join(cells) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(headers)}">None.</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def class_attribute(classes: Sequence[str]) -> str:
    return f' class="{" ".join(classes)}"' if classes else ""
