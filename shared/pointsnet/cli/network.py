"""Commands across programs: linked accounts, exchange rates, quotes and exchanges."""

from __future__ import annotations

import argparse
from typing import Any

from pointsnet.cli.output import Column, CommandOutput, Signed
from pointsnet.cli.registry import Commands, add_idempotency_argument
from pointsnet.client import PointsNetClient, member_points

LINK_COLUMNS: tuple[Column, ...] = (
    "link_id",
    "status",
    ("member", "proposer.member_id"),
    ("program", "proposer.program"),
    ("partner_member", "counterparty.member_id"),
    ("partner_program", "counterparty.program"),
    "expires_at",
    "confirmed_at",
)
# A member's active links, one line each: who the member is at the other program, since when.
LINKED_COLUMNS: tuple[Column, ...] = (
    "member_id",
    "link_id",
    "partner_id",
    "program",
    "partner_member_id",
    "confirmed_at",
)
RATE_COLUMNS: tuple[Column, ...] = ("from", "to", "rate", "price", "effective_from")
QUOTE_COLUMNS: tuple[Column, ...] = (
    "quote_id",
    "member_id",
    "from_program",
    "to_program",
    "rate",
    "points_out",
    "points_in",
    "expires_at",
)
# One line per leg: whose points moved, signed, and that member's balance after.
EXCHANGE_COLUMNS: tuple[Column, ...] = (
    "exchange_id",
    "member_id",
    "program",
    "points",
    "available",
    "pending",
)


def add_link(commands: Commands) -> None:
    link = commands.group(
        "link",
        "Propose, confirm, list, show or revoke linked accounts.",
        example="pointsnet link show lnk_abcdefghijklmnopqrstuvwxyz",
    )
    propose = link.add(
        "propose",
        _run_propose_link,
        "Link your member to a member elsewhere.",
        example="pointsnet --partner rideco link propose rider-7 STAR guest-42",
    )
    propose.add_argument("member_id", metavar="MEMBER", help="your own member id")
    propose.add_argument("partner_program", metavar="PROGRAM", help="the other program's code")
    propose.add_argument("partner_member_id", metavar="PARTNER_MEMBER")
    add_idempotency_argument(propose)
    confirm = link.add(
        "confirm",
        _run_confirm_link,
        "Confirm a link the other partner proposed.",
        example="pointsnet link confirm lnk_abcdefghijklmnopqrstuvwxyz",
    )
    confirm.add_argument("link_id", metavar="LINK_ID")
    add_idempotency_argument(confirm)
    link.add(
        "list",
        _run_list_links,
        "List a member's active links, each with when it was confirmed.",
        example="pointsnet link list guest-42",
    ).add_argument("member_id", metavar="MEMBER", help="your own member id")
    link.add(
        "show",
        _run_show_link,
        "Show a link: an active one with when it was confirmed.",
        example="pointsnet link show lnk_abcdefghijklmnopqrstuvwxyz",
    ).add_argument("link_id", metavar="LINK_ID")
    link.add(
        "revoke",
        _run_revoke_link,
        "Revoke a link.",
        example="pointsnet link revoke lnk_abcdefghijklmnopqrstuvwxyz",
    ).add_argument("link_id", metavar="LINK_ID")


def _link_output(data: dict[str, Any]) -> CommandOutput:
    row = dict(data)
    if row.get("status") != "pending":
        row["expires_at"] = None  # when a proposal lapses: nothing once it is answered
    return CommandOutput(data=data, rows=[row], columns=LINK_COLUMNS)


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


def _run_list_links(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    member = client.get_member(args.member_id)
    links = member.get("links") or []
    rows = [
        {
            "member_id": member.get("member_id"),
            "link_id": link.get("link_id"),
            "partner_id": link.get("partner_id"),
            "program": link.get("program"),
            "partner_member_id": link.get("member_id"),
            "confirmed_at": link.get("confirmed_at"),
        }
        for link in links
    ]
    data = {"member_id": member.get("member_id"), "program": member.get("program"), "links": links}
    return CommandOutput(data=data, rows=rows, columns=LINKED_COLUMNS)


def _run_show_link(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _link_output(client.get_link(args.link_id))


def _run_revoke_link(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _link_output(client.revoke_link(args.link_id))


def add_rates(commands: Commands) -> None:
    rates = commands.group(
        "rates",
        "Show, or publish (admin key), exchange rates.",
        example="pointsnet rates show STAR RIDE",
    )
    show = rates.add(
        "show", _run_show_rate, "The rate in force.", example="pointsnet rates show STAR RIDE"
    )
    show.add_argument("from_program", metavar="FROM")
    show.add_argument("to_program", metavar="TO")
    publish = rates.add(
        "set",
        _run_set_rate,
        "Publish a rate; earlier rates stay in history.",
        example="pointsnet rates set STAR RIDE 0.25 --effective-from 2026-01-01T00:00:00Z",
    )
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
    parser = commands.add(
        "quote",
        _run_quote,
        "Lock a rate to move a member's points; refused (insufficient_points) for more "
        "points than the member has.",
        example="pointsnet quote guest-42 STAR RIDE 200",
    )
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
    parser = commands.add(
        "exchange",
        _run_exchange,
        "Execute a quote: both legs at once.",
        example="pointsnet exchange qte_abcdefghijklmnopqrstuvwxyz",
    )
    parser.add_argument("quote_id", metavar="QUOTE_ID")
    add_idempotency_argument(parser)


def _run_exchange(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.exchange(args.quote_id, idempotency_key=args.idempotency_key)
    balances = data.get("balances") or {}
    rows = [
        {
            "exchange_id": data.get("exchange_id"),
            "member_id": leg.get("member_id"),
            "program": leg.get("program"),
            "points": Signed(member_points(leg)),
            "available": balance.get("available"),
            "pending": balance.get("pending"),
        }
        for leg, balance in (
            (data.get("debit") or {}, balances.get("from") or {}),
            (data.get("credit") or {}, balances.get("to") or {}),
        )
    ]
    footer = (
        f"{data.get('points_out')} for {data.get('points_in')} at rate {data.get('rate')} "
        f"(quote {data.get('quote_id')})"
    )
    return CommandOutput(data=data, rows=rows, columns=EXCHANGE_COLUMNS, footer=footer)
