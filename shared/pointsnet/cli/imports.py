"""A partner joining the network: `import FILE` (opening balances, followed to the end with a
progress bar) and `earn-batch FILE` (up to 100 earns in one request)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

from pointsnet.cli.finance import Progress
from pointsnet.cli.output import Column, CommandOutput
from pointsnet.cli.registry import CommandFailed, Commands, add_idempotency_argument
from pointsnet.client import PointsNetClient

IMPORT_COLUMNS: tuple[Column, ...] = (
    "import_id",
    "status",
    "rows_read",
    "rows_posted",
    "rows_refused",
)
BATCH_COLUMNS: tuple[Column, ...] = (
    "index",
    "member_id",
    "reference",
    "status",
    ("points", "transaction.points"),
    ("available", "balance.available"),
    ("error", "error.code"),
)
BAR_WIDTH = 30


def add_import(commands: Commands) -> None:
    parser = commands.add(
        "import",
        _run_import,
        "Import members' opening balances from a CSV file (columns member_id, points, and "
        "optional reference, tier, lots as POINTS@YYYY-MM-DD;...). Every row posts once; "
        "refused rows are listed in the result file.",
        example="pointsnet import members.csv --idempotency-key import-2026-01",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the CSV file, header first")
    parser.add_argument("--description", help="what the import is, kept with it")
    parser.add_argument(
        "--wait",
        type=_positive_seconds,
        default=3600.0,
        metavar="SECONDS",
        help="how long to follow the import before leaving it running (default 3600)",
    )
    add_idempotency_argument(parser)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def _run_import(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    content = _read(args.file)
    total = max(0, sum(1 for line in content.decode("utf-8-sig").splitlines() if line) - 1)
    # One key for the whole import: running the command again resumes the same import.
    key = args.idempotency_key or str(uuid.uuid4())
    with Progress(f"importing {args.file.name}") as progress:
        imported = client.import_file(
            content,
            description=args.description,
            idempotency_key=key,
            on_progress=lambda now: progress.update(progress_bar(now, total)),
            timeout=args.wait,
        )
    footer = None
    if imported["status"] == "running":
        footer = (
            f"still running; follow it with the same command and --idempotency-key {key}, or "
            f"GET /v1/imports/{imported['import_id']}"
        )
    if imported.get("rows_refused"):
        footer = f"refused rows, with why: {imported.get('result_url')}"
    if imported["status"] == "failed":
        footer = (
            f"the import stopped: {imported.get('failure')}; run the command again with "
            f"--idempotency-key {key} to resume it"
        )
    return CommandOutput(data=imported, rows=[imported], columns=IMPORT_COLUMNS, footer=footer)


def progress_bar(imported: dict[str, Any], total: int) -> str:
    """`[#########.....]  60%  6,000/10,000 rows (5,990 posted, 10 refused)`."""
    done = int(imported.get("rows_read", 0))
    share = min(1.0, done / total) if total else 0.0
    filled = round(share * BAR_WIDTH)
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%}  {done:,}/{total:,} rows "
        f"({int(imported.get('rows_posted', 0)):,} posted, "
        f"{int(imported.get('rows_refused', 0)):,} refused)"
    )


def add_earn_batch(commands: Commands) -> None:
    parser = commands.add(
        "earn-batch",
        _run_earn_batch,
        "Post up to 100 earns in one request from a JSON file (a list of earn bodies with "
        "member_id) or a CSV (member_id, points, reference, and optional program, "
        "description). Each earn posts once by its reference: run it again and the posted "
        "ones answer replayed.",
        example="pointsnet earn-batch night.csv",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="a .json or .csv file")
    add_idempotency_argument(parser)


def _run_earn_batch(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    earns = read_earns(args.file)
    data = client.earn_batch(earns, idempotency_key=args.idempotency_key)
    summary = (
        f"{data.get('posted', 0)} posted, {data.get('replayed', 0)} replayed, "
        f"{data.get('refused', 0)} refused"
    )
    return CommandOutput(
        data=data, rows=data.get("items", []), columns=BATCH_COLUMNS, footer=summary
    )


def read_earns(path: Path) -> list[dict[str, Any]]:
    """The earns of a batch file: JSON (a list, or {"earns": [...]}) or CSV with a header."""
    text = _read(path).decode("utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise CommandFailed(f"{path} is not JSON: {exc}") from exc
        earns = loaded.get("earns") if isinstance(loaded, dict) else loaded
        if not isinstance(earns, list) or not all(isinstance(earn, dict) for earn in earns):
            raise CommandFailed(f"{path} holds no list of earns")
        return earns
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        earn: dict[str, Any] = {name: value for name, value in row.items() if value}
        if "points" in earn:
            if not earn["points"].isdigit():
                raise CommandFailed(f"{path}: points {earn['points']!r} is not a whole number")
            earn["points"] = int(earn["points"])
        rows.append(earn)
    return rows


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror or exc}") from exc
