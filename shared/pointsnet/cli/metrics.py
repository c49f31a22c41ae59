"""`pointsnet metrics PROGRAM --from DAY --to DAY`: a program's figures over a period, one
row per figure; `--output json` prints the API's answer, formulas included."""

from __future__ import annotations

import argparse
from typing import Any

from pointsnet.cli.output import Column, CommandOutput
from pointsnet.cli.registry import Commands
from pointsnet.client import PointsNetClient

FIGURE_COLUMNS: tuple[Column, ...] = ("figure", "value")
# The figures the table shows, in this order (the rest are in the JSON).
FIGURES = (
    "points_issued",
    "points_redeemed",
    "points_expired",
    "points_exchanged_in",
    "points_exchanged_out",
    "points_outstanding",
    "point_value",
    "liability",
    "breakage",
    "active_members",
    "new_members",
    "retention",
    "purchases",
    "spend",
    "purchase_frequency",
    "average_order_value",
    "lifetime_value",
)


def add_metrics(commands: Commands) -> None:
    parser = commands.add(
        "metrics",
        _run_metrics,
        "Show a program's metrics over UTC days (a partner key: its own program; finance, "
        "admin: any).",
        example="pointsnet metrics STAR --from 2026-01-01 --to 2026-01-31",
    )
    parser.add_argument("program", metavar="PROGRAM", help="a program code, e.g. STAR")
    parser.add_argument(
        "--from", dest="period_start", required=True, metavar="DATE", help="first day, YYYY-MM-DD"
    )
    parser.add_argument(
        "--to",
        dest="period_end",
        required=True,
        metavar="DATE",
        help="last day, YYYY-MM-DD (at most 92 days, not after today)",
    )


def _run_metrics(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.program_metrics(args.program, args.period_start, args.period_end)
    rows = [{"figure": name, "value": data.get(name)} for name in FIGURES]
    return CommandOutput(data=data, rows=rows, columns=FIGURE_COLUMNS, footer=_footer(data))


def _footer(data: dict[str, Any]) -> str:
    missing = data.get("days_missing") or []
    lines = [
        f"{data.get('program')} {data.get('period_start')}..{data.get('period_end')}, "
        f"{data.get('currency')}: {data.get('days_computed')} days computed, "
        f"{len(missing)} missing" + (f" ({', '.join(missing)})" if missing else ""),
        f"outstanding as of {data.get('outstanding_as_of')}, "
        f"counted since {data.get('outstanding_since')}",
        f"retention against {data.get('previous_period_start')}.."
        f"{data.get('previous_period_end')} ({data.get('previous_days_computed')} days computed)",
    ]
    if data.get("estimated"):
        lines.append("member counts are estimates (a day had over 20,000 active members)")
    return "\n".join(lines)
