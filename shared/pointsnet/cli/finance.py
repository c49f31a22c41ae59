"""Finance's commands: settlement runs, then reviewing, approving and paying settlements."""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from pointsnet.cli.output import Column, CommandOutput
from pointsnet.cli.registry import CommandFailed, Commands, add_idempotency_argument
from pointsnet.client import PointsNetClient, PointsNetError

SETTLEMENT_COLUMNS: tuple[Column, ...] = (
    "settlement_id",
    "kind",
    "period_start",
    "period_end",
    "status",
    "currency",
    "settled_total",
    "checks_failed",
    "updated_at",
)
LINE_COLUMNS: tuple[Column, ...] = (
    "payer",
    "payee",
    "program",
    "points",
    "exact_amount",
    "amount",
)
REPORT_FORMATS = ("csv", "json", "html")
SETTLEMENT_STATUSES = ("draft", "needs_review", "approved", "disputed", "paid")
# How long `pointsnet settle` waits in all, and between tries while another run holds the period.
SETTLE_WAIT_SECONDS = 900.0
SETTLE_BUSY_PAUSE_SECONDS = 2.0
# The longest period a run takes (pointsnet.settlement.models.MAX_PERIOD_DAYS, as the API says).
MAX_PERIOD_DAYS = 366
SETTLEMENT_ID = "stl_20260101_20260131"


def add_settlements(commands: Commands) -> None:
    settlements = commands.group(
        "settlements",
        "Review, approve and pay settlements (finance key).",
        local_role="finance",
        example="pointsnet settlements list --status needs_review",
    )
    listing = settlements.add(
        "list",
        _run_list_settlements,
        "List settlements by period.",
        example="pointsnet settlements list --status needs_review --period-start 2026-01-01",
    )
    listing.add_argument("--status", choices=SETTLEMENT_STATUSES)
    listing.add_argument("--period-start", help="periods starting on or after YYYY-MM-DD")
    listing.add_argument("--period-end", help="periods ending on or before YYYY-MM-DD")
    show = settlements.add(
        "show",
        _run_show_settlement,
        "Show a settlement's lines and checks.",
        example=f"pointsnet settlements show {SETTLEMENT_ID}",
    )
    show.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    report = settlements.add(
        "report",
        _run_settlement_report,
        "Save a settlement's report.",
        example=f"pointsnet settlements report {SETTLEMENT_ID} --format csv --out january.csv",
    )
    report.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    report.add_argument("--format", choices=REPORT_FORMATS, default="html", dest="report_format")
    report.add_argument("--out", help="file to write (default SETTLEMENT_ID.FORMAT)")
    approve = settlements.add(
        "approve",
        _run_approve_settlement,
        "Approve a settlement.",
        example=f"pointsnet settlements approve {SETTLEMENT_ID} --reason 'checks passed'",
    )
    approve.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    approve.add_argument("--reason", help="a note for the audit trail")
    add_idempotency_argument(approve)
    dispute = settlements.add(
        "dispute",
        _run_dispute_settlement,
        "Dispute a settlement.",
        example=f"pointsnet settlements dispute {SETTLEMENT_ID} --reason 'RIDE rate is stale'",
    )
    dispute.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    dispute.add_argument("--reason", required=True, help="what is contested")
    add_idempotency_argument(dispute)
    paid = settlements.add(
        "mark-paid",
        _run_mark_settlement_paid,
        "Record a settlement's payment.",
        example=f"pointsnet settlements mark-paid {SETTLEMENT_ID} --payment-reference WIRE-0131",
    )
    paid.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    paid.add_argument("--payment-reference", required=True, help="the transfer's reference")
    paid.add_argument("--reason", help="a note for the audit trail")
    add_idempotency_argument(paid)


def _run_list_settlements(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    items = client.list_settlements(
        status=args.status, period_start=args.period_start, period_end=args.period_end
    )
    return CommandOutput(data={"items": items}, rows=items, columns=SETTLEMENT_COLUMNS)


def _settlement_output(data: dict[str, Any]) -> CommandOutput:
    """The lines as the table; status, net positions, rounding and checks beneath."""
    positions = ", ".join(
        f"{item['partner_id']} {item['amount']}" for item in data.get("net_positions", [])
    )
    rounding = data.get("rounding", {})
    failed = [item for item in data.get("checks", []) if not item.get("ok")]
    footer = [
        f"{data.get('settlement_id')}: {data.get('status')}, {data.get('kind')}, "
        f"{data.get('period_start')}..{data.get('period_end')}, version {data.get('version')}",
        f"net positions ({data.get('currency')}, + receives): {positions or 'none'}",
        f"rounding residual {rounding.get('residual')} "
        f"(exact {rounding.get('exact_total')}, settled {rounding.get('settled_total')})",
    ]
    if not failed:
        footer.append("checks: all passed")
    for item in failed:
        named = ", ".join(detail["id"] for detail in item.get("details", []))
        footer.append(f"check FAILED {item['name']}: {item.get('offending')} ({named})")
    return CommandOutput(
        data=data, rows=data.get("lines", []), columns=LINE_COLUMNS, footer="\n".join(footer)
    )


def _run_show_settlement(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _settlement_output(client.get_settlement(args.settlement_id))


def _run_settlement_report(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    text = client.settlement_report(args.settlement_id, args.report_format)
    out = args.out or f"{args.settlement_id}.{args.report_format}"
    # newline="": the CSV's own CRLF line ends are written as they are.
    with open(out, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    data = {
        "settlement_id": args.settlement_id,
        "format": args.report_format,
        "file": out,
        "characters": len(text),
    }
    return CommandOutput(data=data, rows=[data], columns=("settlement_id", "format", "file"))


def _run_approve_settlement(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _settlement_output(
        client.approve_settlement(
            args.settlement_id, reason=args.reason, idempotency_key=args.idempotency_key
        )
    )


def _run_dispute_settlement(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _settlement_output(
        client.dispute_settlement(
            args.settlement_id, args.reason, idempotency_key=args.idempotency_key
        )
    )


def _run_mark_settlement_paid(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _settlement_output(
        client.mark_settlement_paid(
            args.settlement_id,
            args.payment_reference,
            reason=args.reason,
            idempotency_key=args.idempotency_key,
        )
    )


def add_settle(commands: Commands) -> None:
    parser = commands.add(
        "settle",
        _run_settle,
        "Reconcile and settle a period now (admin key), showing progress until it is done. A "
        "period that ends today is settled provisionally: a later run may add an adjustment.",
        example="pointsnet settle --period-start 2026-01-01 --period-end 2026-01-31",
    )
    parser.set_defaults(local_role="admin")
    parser.add_argument(
        "--period-start", required=True, type=_utc_day, help="first UTC day, YYYY-MM-DD"
    )
    parser.add_argument(
        "--period-end", required=True, type=_utc_day, help="last UTC day, YYYY-MM-DD"
    )
    parser.add_argument("--reason", help="why the run is started, kept in the audit trail")
    add_idempotency_argument(parser)
    # Checked by `main` right after parsing: a usage error before anything is said or sent.
    parser.set_defaults(check_arguments=partial(_check_period, parser))


def _utc_day(text: str) -> date:
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD") from exc


def _check_period(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The period rules the API applies, so that a bad period is refused before any run."""
    start, end = args.period_start, args.period_end
    today = _utc_today()
    if end < start:
        parser.error(f"--period-end {end} is before --period-start {start}")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        parser.error(f"a period is at most {MAX_PERIOD_DAYS} days")
    if end > today:
        parser.error(f"--period-end {end} is after today ({today} UTC): it has not begun")


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _run_settle(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    start, end = args.period_start.isoformat(), args.period_end.isoformat()
    if args.period_end >= _utc_today():
        print(
            f"warning: period {start}..{end} has not ended: this settlement is provisional "
            "and a later run may produce an adjustment",
            file=sys.stderr,
        )
    # One key for every request of the run: a repeat carries the same run on, never a new one.
    key = args.idempotency_key or str(uuid.uuid4())
    with Progress(f"settling {start}..{end}") as progress:
        while True:
            try:
                response = client.start_settlement_run(
                    start, end, reason=args.reason, idempotency_key=key
                )
            except PointsNetError as exc:
                if exc.code != "request_in_progress" or progress.elapsed() > SETTLE_WAIT_SECONDS:
                    raise
                progress.update("another run holds the period; waiting")
                time.sleep(SETTLE_BUSY_PAUSE_SECONDS)
                continue
            if response.status != 202:
                return _settlement_output(response.body)
            if progress.elapsed() > SETTLE_WAIT_SECONDS:
                raise CommandFailed(
                    f"the run is not finished after {SETTLE_WAIT_SECONDS:.0f} s; it kept its "
                    f"progress: run the same command with --idempotency-key {key} to go on"
                )
            step = response.body
            progress.update(
                f"run {step.get('run_id')} {step.get('status')}: "
                f"{step.get('items', 0):,} journal shards to check"
            )
            time.sleep(SETTLE_BUSY_PAUSE_SECONDS)


class Progress:
    """A spinner with the elapsed time on a terminal's stderr; one line per update otherwise."""

    FRAMES = "|/-\\"

    def __init__(self, label: str, stream: Any = None, interval: float = 0.1) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.interval = interval
        self.detail = "starting"
        self.started = time.monotonic()
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)

    def __enter__(self) -> Progress:
        if self.live:
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        self._stop.set()
        if self.live:
            self._thread.join()
            self.stream.write("\r\033[K")
        # Done only when it is: an error (the command reports it) or Ctrl-C is not done.
        outcome = "done in" if exc_type is None else "stopped after"
        self.stream.write(f"{self.label}: {outcome} {self.elapsed():.1f} s\n")
        self.stream.flush()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def update(self, detail: str) -> None:
        self.detail = detail
        if not self.live:
            self.stream.write(f"{self.label}: {detail} ({self.elapsed():.1f} s)\n")
            self.stream.flush()

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(self.interval):
            self.stream.write(
                f"\r\033[K{self.FRAMES[frame % len(self.FRAMES)]} {self.label}  "
                f"{self.elapsed():5.1f} s  {self.detail}"
            )
            self.stream.flush()
            frame += 1
