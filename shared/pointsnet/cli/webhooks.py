"""Partner commands beyond polling: `pointsnet webhooks …` and `pointsnet statements`."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any, get_args

from pointsnet.cli.output import CommandOutput
from pointsnet.cli.registry import CommandFailed, Commands
from pointsnet.client import PointsNetClient
from pointsnet.webhooks.models import EventType

EVENT_TYPES = get_args(EventType)
WEBHOOK_COLUMNS = ("webhook_id", "url", ("events", "event_list"), "secret")
DELIVERY_COLUMNS = (
    "event_id",
    "event_type",
    "status",
    "attempts",
    "last_attempt_at",
    "response_status",
    "error",
)


def add_webhooks(commands: Commands) -> None:
    webhooks = commands.group(
        "webhooks",
        "Where the network delivers this partner's events (docs/webhooks.md).",
        example="pointsnet webhooks set https://partner.example/hooks points.earned",
    )
    setting = webhooks.add(
        "set",
        _run_set,
        "Create or change the webhook; a new secret is printed once.",
        example="pointsnet webhooks set https://partner.example/hooks points.earned "
        "settlement.ready",
    )
    setting.add_argument("url", metavar="URL", help="https (http to loopback locally)")
    setting.add_argument(
        "events", metavar="EVENT", nargs="+", choices=EVENT_TYPES, help="event types to deliver"
    )
    webhooks.add(
        "show",
        _run_show,
        "Show the webhook and its latest deliveries.",
        example="pointsnet webhooks show",
    )
    webhooks.add(
        "rotate-secret",
        _run_rotate,
        "Issue a new secret (printed once); the old one also signs for 24 hours.",
        example="pointsnet webhooks rotate-secret",
    )
    webhooks.add("delete", _run_delete, "Remove the webhook.", example="pointsnet webhooks delete")


def add_statements(commands: Commands) -> None:
    parser = commands.add(
        "statements",
        _run_statements,
        "This partner's side of each settlement in a period: its lines and net position.",
        example="pointsnet statements 2026-11-01 2026-11-30",
    )
    parser.add_argument("period_start", metavar="START", type=_day, help="first day, YYYY-MM-DD")
    parser.add_argument(
        "period_end", metavar="END", type=_day, nargs="?", help="last day (default START)"
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD") from None


def _webhook(webhook: dict[str, Any], footer: str | None = None) -> CommandOutput:
    row = webhook | {"event_list": " ".join(webhook.get("events", []))}
    return CommandOutput(data=webhook, rows=[row], columns=WEBHOOK_COLUMNS, footer=footer)


def _run_set(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    webhook = client.set_webhook(args.url, args.events)
    return _webhook(webhook, _secret_footer(webhook))


def _run_rotate(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    current = client.get_webhook()
    webhook = client.set_webhook(current["url"], current["events"], rotate_secret=True)
    return _webhook(webhook, _secret_footer(webhook))


def _secret_footer(webhook: dict[str, Any]) -> str | None:
    if "secret" not in webhook:
        return None
    return "keep the secret now: it is not shown again (docs/webhooks.md verifies with it)"


def _run_show(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    webhook = client.get_webhook()
    deliveries = webhook.get("deliveries", [])
    footer = f"{webhook['url']} for {' '.join(webhook['events'])}"
    return CommandOutput(data=webhook, rows=deliveries, columns=DELIVERY_COLUMNS, footer=footer)


def _run_delete(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    removed = client.delete_webhook()
    return CommandOutput(data=removed, rows=[removed], columns=("webhook_id", "deleted"))


def _run_statements(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    end = args.period_end or args.period_start
    if end < args.period_start:
        raise CommandFailed(f"END {end} is before START {args.period_start}")
    items = client.statements(args.period_start, end)
    rows = [
        {
            "settlement_id": item["settlement_id"],
            "status": item["status"] + (" (provisional)" if item.get("provisional") else ""),
            "direction": line["direction"],
            "counterparty": _named(item, line["counterparty"]),
            "program": line["program"],
            "points": line["points"],
            "amount": f"{line['amount']} {item['currency']}",
        }
        for item in items
        for line in item["lines"]
    ]
    nets = [f"{i['settlement_id']}: {i['net_position']} {i['currency']}" for i in items]
    footer = "net position (+ receives, - pays): " + "; ".join(nets) if items else "none"
    columns = (
        "settlement_id",
        "status",
        "direction",
        "counterparty",
        "program",
        "points",
        "amount",
    )
    return CommandOutput(data=items, rows=rows, columns=columns, footer=footer)


def _named(statement: dict[str, Any], partner_id: str) -> str:
    for other in statement.get("counterparties", []):
        if other["partner_id"] == partner_id and other.get("name"):
            return f"{other['name']} ({partner_id})"
    return partner_id
