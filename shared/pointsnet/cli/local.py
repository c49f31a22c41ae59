"""`pointsnet events tail` and `pointsnet schedules`: the local network's events and schedules.

Both read what `make run` provides: the events in `.pointsnet/events.jsonl` beside the
credentials file, and the schedules through the local API's `/_local/` endpoints.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from pointsnet.cli.output import CommandOutput
from pointsnet.cli.registry import CommandFailed, Commands, GlobalOptions
from pointsnet.credentials import find_local_file

EVENT_LOG_NAME = "events.jsonl"
FOLLOW_POLL_SECONDS = 0.2


# -- events -------------------------------------------------------------------------------------


def add_events(commands: Commands) -> None:
    group = commands.group(
        "events",
        "The local network's published events",
        example="pointsnet events tail --follow --type 'points.*'",
    )
    tail = group.add_local(
        "tail",
        run_events_tail,
        "Print the events `make run` published (.pointsnet/events.jsonl), oldest first",
        example="pointsnet events tail --follow --type 'points.*'",
    )
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    tail.add_argument(
        "--type",
        "-t",
        action="append",
        dest="types",
        metavar="T",
        help="only events of this type (repeatable; `points.*` matches a family)",
    )
    tail.add_argument(
        "--lines", "-n", type=int, default=20, help="how many past events to print (default 20)"
    )
    tail.add_argument("--file", type=Path, help="the event log (default: beside local.json)")


def run_events_tail(args: argparse.Namespace, options: GlobalOptions) -> CommandOutput:
    path = args.file or event_log_path()
    tail_events(
        path,
        sys.stdout,
        types=args.types or [],
        lines=max(0, args.lines),
        follow=args.follow,
        as_json=options.output == "json",
    )
    return CommandOutput(data=None, rows=(), columns=(), printed=True)


def event_log_path() -> Path:
    local_file = find_local_file()
    if local_file is None:
        raise CommandFailed("no .pointsnet/local.json here or above: start the network (make run)")
    return local_file.parent / EVENT_LOG_NAME


def tail_events(
    path: Path,
    out: IO[str],
    *,
    types: list[str],
    lines: int,
    follow: bool,
    as_json: bool = False,
    stop_after: float | None = None,
) -> int:
    """Print the last `lines` matching events, then (following) new ones; the count printed."""
    printed = 0
    position = 0
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            recent = [event for event in _events(handle) if _wanted(event, types)]
            position = handle.tell()
        for event in recent[-lines:] if lines else []:
            out.write(_format(event, as_json) + "\n")
            printed += 1
        out.flush()
    elif not follow:
        raise CommandFailed(f"{path} does not exist: no local network has published events yet")
    started = time.monotonic()
    while follow and (stop_after is None or time.monotonic() - started < stop_after):
        if path.exists():
            if path.stat().st_size < position:
                position = 0  # a fresh `make run` started the file again
            with path.open(encoding="utf-8") as handle:
                handle.seek(position)
                for event in _events(handle):
                    if _wanted(event, types):
                        out.write(_format(event, as_json) + "\n")
                        printed += 1
                position = handle.tell()
            out.flush()
        time.sleep(FOLLOW_POLL_SECONDS)
    return printed


def _events(handle: IO[str]) -> Iterator[dict[str, Any]]:
    while True:
        start = handle.tell()
        line = handle.readline()
        if not line:
            return
        if not line.endswith("\n"):
            handle.seek(start)  # a line still being written: read it whole next time
            return
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def _wanted(event: Mapping[str, Any], types: list[str]) -> bool:
    kind = str(event.get("detail-type", ""))
    return not types or any(fnmatch.fnmatchcase(kind, pattern) for pattern in types)


def _format(event: Mapping[str, Any], as_json: bool) -> str:
    """One line a person can read: when, what, for whom, and the gist."""
    if as_json:
        return json.dumps(event, sort_keys=True)
    raw_detail = event.get("detail")
    detail: Mapping[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
    kind = str(event.get("detail-type", "?"))
    raw_data = detail.get("data")
    data: Mapping[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    when = str(detail.get("occurred_at") or event.get("time") or "")
    when = when.replace("T", " ")[:19]
    partner = str(detail.get("partner_id", ""))
    return f"{when}  {kind:<20}  {partner:<12}  {_gist(kind, data)}".rstrip()


def _gist(kind: str, data: Mapping[str, Any]) -> str:
    member = data.get("member_id", "")
    program = data.get("program", "")
    balance = data.get("balance") if isinstance(data.get("balance"), dict) else None
    after = f"  (available {balance['available']}, pending {balance['pending']})" if balance else ""
    if kind == "points.earned":
        return (
            f"{member}  +{data.get('points')} {program}  ref {data.get('reference')}"
            f"  {data.get('transaction_id')}{after}"
        )
    if kind == "points.expired":
        points = f"-{data.get('points')} {program} expired"
        return f"{member}  {points}  {data.get('transaction_id')}{after}"
    if kind == "points.expiring":
        return f"{member}  {data.get('points')} {program} expire at {data.get('expires_at')}"
    if kind == "member.tier_changed":
        return f"{member}  {program} tier {data.get('from_tier')} -> {data.get('to_tier')}"
    if kind == "settlement.ready":
        return (
            f"{data.get('settlement_id')}  {data.get('period_start')}..{data.get('period_end')}"
            f"  {data.get('status')}  {data.get('amount')} {data.get('currency')}"
        )
    return json.dumps(data, sort_keys=True)


# -- schedules ----------------------------------------------------------------------------------


def add_schedules(commands: Commands) -> None:
    group = commands.group(
        "schedules",
        "The local network's schedules (template.yaml's ScheduleV2)",
        example="pointsnet schedules run VoidTimedOutHolds",
    )
    group.add_local(
        "list",
        run_schedules_list,
        "List the schedules with their next run",
        example="pointsnet schedules list",
    )
    run = group.add_local(
        "run",
        run_schedules_run,
        "Fire a schedule now and show what it did",
        example="pointsnet schedules run VoidTimedOutHolds",
    )
    run.add_argument("name", help="e.g. LifecycleFunctionVoidTimedOutHolds, or VoidTimedOutHolds")


def run_schedules_list(args: argparse.Namespace, options: GlobalOptions) -> CommandOutput:
    listing = _control("GET", "/_local/schedules")
    items = listing.get("items", [])
    return CommandOutput(
        data=listing,
        rows=items,
        columns=(
            "name",
            "function",
            "expression",
            "next_run",
            ("last run", "last_run.scheduled_time"),
            ("status", "last_run.status"),
        ),
    )


def run_schedules_run(args: argparse.Namespace, options: GlobalOptions) -> CommandOutput:
    outcome = _control("POST", f"/_local/schedules/{args.name}/run")
    result = outcome.get("result")
    footer = None
    if result is not None:
        footer = "result: " + json.dumps(result, sort_keys=True, default=str)
    elif outcome.get("error"):
        footer = f"error: {outcome['error']}"
    return CommandOutput(
        data=outcome,
        rows=[outcome],
        columns=("name", "function", "scheduled_time", "status", "attempts", "duration_ms"),
        footer=footer,
    )


def _control(method: str, path: str) -> dict[str, Any]:
    """Call the running local network's `/_local/` endpoint named by `path`."""
    local_file = find_local_file()
    if local_file is None:
        raise CommandFailed("no .pointsnet/local.json here or above: start the network (make run)")
    base_url = json.loads(local_file.read_text(encoding="utf-8"))["base_url"].rstrip("/")
    request = urllib.request.Request(
        base_url + path, method=method, data=b"" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        message = body.get("error", {}).get("message", str(exc))
        raise CommandFailed(message) from exc
    except urllib.error.URLError as exc:
        raise CommandFailed(
            f"the local network at {base_url} does not answer ({exc.reason}): "
            "is `make run` running?"
        ) from exc
    return answer
