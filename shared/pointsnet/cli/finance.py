"""Finance's commands: settlement runs, then reviewing, approving and paying settlements."""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
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


def add_settlements(commands: Commands) -> None:
    settlements = commands.group(
        "settlements", "Review, approve and pay settlements (finance key).", local_role="finance"
    )
    listing = settlements.add("list", _run_list_settlements, "List settlements by period.")
    listing.add_argument("--status", choices=SETTLEMENT_STATUSES)
    listing.add_argument("--period-start", help="periods starting on or after YYYY-MM-DD")
    listing.add_argument("--period-end", help="periods ending on or before YYYY-MM-DD")
    show = settlements.add("show", _run_show_settlement, "Show a settlement's lines and checks.")
    show.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    report = settlements.add("report", _run_settlement_report, "Save a settlement's report.")
    report.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    report.add_argument("--format", choices=REPORT_FORMATS, default="html", dest="report_format")
    report.add_argument("--out", help="file to write (default SETTLEMENT_ID.FORMAT)")
    approve = settlements.add("approve", _run_approve_settlement, "Approve a settlement.")
    approve.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    approve.add_argument("--reason", help="a note for the audit trail")
    add_idempotency_argument(approve)
    dispute = settlements.add("dispute", _run_dispute_settlement, "Dispute a settlement.")
    dispute.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    dispute.add_argument("--reason", required=True, help="what is contested")
    add_idempotency_argument(dispute)
    paid = settlements.add("mark-paid", _run_mark_settlement_paid, "Record a settlement's payment.")
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
        "Reconcile and settle a period now (admin key), showing progress until it is done.",
    )
    parser.set_defaults(local_role="admin")
    parser.add_argument("--period-start", required=True, help="first UTC day, YYYY-MM-DD")
    parser.add_argument("--period-end", required=True, help="last UTC day, YYYY-MM-DD")
    parser.add_argument("--reason", help="why the run is started, kept in the audit trail")
    add_idempotency_argument(parser)


def _run_settle(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    # One key for every request of the run: a repeat carries the same run on, never a new one.
    key = args.idempotency_key or str(uuid.uuid4())
    label = f"settling {args.period_start}..{args.period_end}"
    with Progress(label) as progress:
        while True:
            try:
                response = client.start_settlement_run(
                    args.period_start, args.period_end, reason=args.reason, idempotency_key=key
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

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self.live:
            self._thread.join()
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.label}: done in {self.elapsed():.1f} s\n")
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
