"""Commands across programs: linked accounts, exchange rates, quotes and exchanges."""

from __future__ import annotations

import argparse
from typing import Any

from pointsnet.cli.output import Column, CommandOutput
from pointsnet.cli.registry import Commands, add_idempotency_argument
from pointsnet.client import PointsNetClient

LINK_COLUMNS: tuple[Column, ...] = (
    "link_id",
    "status",
    ("member", "proposer.member_id"),
    ("program", "proposer.program"),
    ("partner_member", "counterparty.member_id"),
    ("partner_program", "counterparty.program"),
    "expires_at",
)
RATE_COLUMNS: tuple[Column, ...] = ("from", "to", "rate", "price", "effective_from")
QUOTE_COLUMNS: tuple[Column, ...] = (
    "quote_id",
    "from_program",
    "to_program",
    "rate",
    "points_out",
    "points_in",
    "expires_at",
)
EXCHANGE_COLUMNS: tuple[Column, ...] = (
    "exchange_id",
    "rate",
    "points_out",
    "points_in",
    ("from_available", "balances.from.available"),
    ("to_available", "balances.to.available"),
)


def add_link(commands: Commands) -> None:
    link = commands.group("link", "Propose, confirm, show or revoke a linked account.")
    propose = link.add("propose", _run_propose_link, "Link your member to a member elsewhere.")
    propose.add_argument("member_id", metavar="MEMBER", help="your own member id")
    propose.add_argument("partner_program", metavar="PROGRAM", help="the other program's code")
    propose.add_argument("partner_member_id", metavar="PARTNER_MEMBER")
    add_idempotency_argument(propose)
    confirm = link.add("confirm", _run_confirm_link, "Confirm a link the other partner proposed.")
    confirm.add_argument("link_id", metavar="LINK_ID")
    add_idempotency_argument(confirm)
    link.add("show", _run_show_link, "Show a link.").add_argument("link_id", metavar="LINK_ID")
    link.add("revoke", _run_revoke_link, "Revoke a link.").add_argument(
        "link_id", metavar="LINK_ID"
    )


def _link_output(data: dict[str, Any]) -> CommandOutput:
    return CommandOutput(data=data, rows=[data], columns=LINK_COLUMNS)


def _run_propose_link(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _link_output(
        client.propose_link(
            args.member_id,
            args.partner_program,
            args.partner_member_id,
            idempotency_key=args.idempotency_key,
        )
    )


def _run_confirm_link(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _link_output(client.confirm_link(args.link_id, idempotency_key=args.idempotency_key))


def _run_show_link(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _link_output(client.get_link(args.link_id))


def _run_revoke_link(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _link_output(client.revoke_link(args.link_id))


def add_rates(commands: Commands) -> None:
    rates = commands.group("rates", "Show, or publish (admin key), exchange rates.")
    show = rates.add("show", _run_show_rate, "The rate in force.")
    show.add_argument("from_program", metavar="FROM")
    show.add_argument("to_program", metavar="TO")
    publish = rates.add("set", _run_set_rate, "Publish a rate; earlier rates stay in history.")
    # Publishing needs the admin key; showing uses your partner key.
    publish.set_defaults(local_role="admin")
    publish.add_argument("from_program", metavar="FROM")
    publish.add_argument("to_program", metavar="TO")
    publish.add_argument("rate", metavar="RATE", help="points of TO per point of FROM, e.g. 0.25")
    publish.add_argument("--price", help="money per point of FROM, if not the point values")
    publish.add_argument("--effective-from", help="RFC 3339 time it takes effect (default now)")


def _run_show_rate(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.get_rate(args.from_program, args.to_program)
    return CommandOutput(data=data, rows=[data], columns=RATE_COLUMNS)


def _run_set_rate(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.set_rate(
        args.from_program,
        args.to_program,
        args.rate,
        price=args.price,
        effective_from=args.effective_from,
    )
    return CommandOutput(data=data, rows=[data], columns=RATE_COLUMNS)


def add_quote(commands: Commands) -> None:
    parser = commands.add("quote", _run_quote, "Lock a rate to move a member's points.")
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")
    parser.add_argument("from_program", metavar="FROM")
    parser.add_argument("to_program", metavar="TO")
    parser.add_argument("points", metavar="POINTS", type=int, help="points of FROM to move")
    add_idempotency_argument(parser)


def _run_quote(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.create_quote(
        args.member_id,
        args.from_program,
        args.to_program,
        args.points,
        idempotency_key=args.idempotency_key,
    )
    return CommandOutput(data=data, rows=[data], columns=QUOTE_COLUMNS)


def add_exchange(commands: Commands) -> None:
    parser = commands.add("exchange", _run_exchange, "Execute a quote: both legs at once.")
    parser.add_argument("quote_id", metavar="QUOTE_ID")
    add_idempotency_argument(parser)


def _run_exchange(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.exchange(args.quote_id, idempotency_key=args.idempotency_key)
    return CommandOutput(data=data, rows=[data], columns=EXCHANGE_COLUMNS)
