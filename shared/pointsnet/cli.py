"""The `pointsnet` command line: the SDK behind argparse subcommands.

Each command is one registrar in `COMMANDS`: it adds a subparser through `Commands.add` (or a
group of them through `Commands.group`, as `pointsnet keys issue`) and names a handler that
calls the client and returns a `CommandOutput`. Rendering (table or JSON), credentials and
error reporting live in `main`, so a new command group is a new registrar and touches
nothing else. `pointsnet configure` writes profiles like `aws configure`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pointsnet.client import USER_AGENT, PointsNetClient, PointsNetError
from pointsnet.credentials import (
    CredentialsError,
    default_config_file,
    read_profile,
    resolve_credentials,
    save_profile,
)
from pointsnet.local.commands import add_events, add_schedules

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE_OR_CREDENTIALS = 2
EXIT_INTERRUPTED = 130

OUTPUT_FORMATS = ("table", "json")

# A table column: a key, or (header, dotted path) such as ("available", "balance.available").
Column = str | tuple[str, str]


@dataclass(frozen=True)
class GlobalOptions:
    """The options every command takes, whichever side of the command name they were given."""

    profile: str | None = None
    partner: str | None = None
    role: str | None = None
    output: str = "table"
    # The role whose key to take from .pointsnet/local.json when none is asked for.
    local_role: str | None = None


@dataclass(frozen=True)
class CommandOutput:
    """What a command produced: `data` is printed as JSON, `rows`/`columns` as a table."""

    data: Any
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[Column]
    footer: str | None = None
    # The command wrote its output as it went (e.g. `events tail --follow`).
    printed: bool = False


Handler = Callable[[PointsNetClient, argparse.Namespace], CommandOutput]
LocalHandler = Callable[[argparse.Namespace, GlobalOptions], CommandOutput]
ClientFactory = Callable[[GlobalOptions], PointsNetClient]


@dataclass
class Commands:
    """Where registrars add their subcommands; each gets the global options too."""

    subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    common: argparse.ArgumentParser

    def add(self, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        parser = self.subparsers.add_parser(
            name, help=help, description=help, parents=[self.common]
        )
        parser.set_defaults(handler=handler)
        return parser

    def add_local(self, name: str, handler: LocalHandler, help: str) -> argparse.ArgumentParser:
        """A command that calls no API, so needs no credentials."""
        parser = self.subparsers.add_parser(
            name, help=help, description=help, parents=[self.common]
        )
        parser.set_defaults(local_handler=handler)
        return parser

    def group(self, name: str, help: str, *, local_role: str | None = None) -> Commands:
        """A command with subcommands; `local_role` picks the local key its calls need."""
        parser = self.subparsers.add_parser(
            name, help=help, description=help, parents=[self.common]
        )
        parser.set_defaults(usage_parser=parser, local_role=local_role)
        subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
        return Commands(subparsers=subparsers, common=self.common)


CommandRegistrar = Callable[[Commands], None]


class CommandFailed(Exception):
    """A command that calls no API failed; the message says why."""


def default_client_factory(options: GlobalOptions) -> PointsNetClient:
    """A client for the credentials that `resolve_credentials` picks for these options."""
    credentials = resolve_credentials(
        profile=options.profile,
        partner=options.partner,
        role=options.role,
        local_role=options.local_role,
    )
    return PointsNetClient.from_credentials(credentials)


def main(argv: list[str] | None = None, *, client_factory: ClientFactory | None = None) -> int:
    """Run one command; returns the process exit code (1 API error, 2 usage or credentials)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE_OR_CREDENTIALS
    handler: Handler | None = getattr(args, "handler", None)
    local_handler: LocalHandler | None = getattr(args, "local_handler", None)
    if handler is None and local_handler is None:
        (getattr(args, "usage_parser", None) or parser).print_help(sys.stderr)
        return EXIT_USAGE_OR_CREDENTIALS

    options = GlobalOptions(
        profile=args.profile,
        partner=args.partner,
        role=args.role,
        output=args.output,
        local_role=getattr(args, "local_role", None),
    )
    try:
        if local_handler is not None:
            result = local_handler(args, options)
        elif handler is not None:
            result = handler((client_factory or default_client_factory)(options), args)
    except CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE_OR_CREDENTIALS
    except CommandFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_API_ERROR
    except PointsNetError as exc:
        print(format_api_error(exc), file=sys.stderr)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

    if not result.printed:
        sys.stdout.write(render_output(result, options.output))
    return EXIT_OK


def build_parser(commands: Sequence[CommandRegistrar] | None = None) -> argparse.ArgumentParser:
    """The full parser: global options, then one subparser per registered command."""
    parser = argparse.ArgumentParser(
        prog="pointsnet", description="Call the PointsNet loyalty points API."
    )
    _add_global_options(parser, suppress_defaults=False)
    parser.add_argument("--version", action="version", version=USER_AGENT)
    # Repeated on every subcommand, so `pointsnet balance m-1 --output json` works too.
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, suppress_defaults=True)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    registry = Commands(subparsers=subparsers, common=common)
    for register in COMMANDS if commands is None else commands:
        register(registry)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    def default(value: Any) -> Any:
        # Suppressed on subcommands so that they do not overwrite values given before them.
        return argparse.SUPPRESS if suppress_defaults else value

    parser.add_argument("--profile", default=default(None), help="profile in ~/.pointsnet/config")
    parser.add_argument(
        "--partner",
        default=default(None),
        help="partner_id of the key to use (e.g. rideco from .pointsnet/local.json)",
    )
    parser.add_argument(
        "--role", default=default(None), help="role of the key to use (partner, finance, admin)"
    )
    parser.add_argument(
        "--output",
        "-o",
        choices=OUTPUT_FORMATS,
        default=default("table"),
        help="table (default) or the API's JSON",
    )


# -- output ------------------------------------------------------------------------------------


def format_api_error(error: PointsNetError) -> str:
    """`error: <code>: <message> (request <id>)`, then any details as JSON on a second line."""
    line = f"error: {error.code}: {error.message}"
    if error.request_id:
        line += f" (request {error.request_id})"
    if error.details:
        line += "\n  details: " + json.dumps(error.details, ensure_ascii=False, default=str)
    return line


def render_output(result: CommandOutput, output: str) -> str:
    """The text printed for a command's result in the chosen output format."""
    if output == "json":
        return json.dumps(result.data, indent=2, ensure_ascii=False, default=str) + "\n"
    text = render_table(result.rows, result.columns)
    if result.footer:
        text += result.footer + "\n"
    return text


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A plain-text table with aligned columns; numbers are right-aligned, missing cells blank."""
    headers = [column if isinstance(column, str) else column[0] for column in columns]
    paths = [column if isinstance(column, str) else column[1] for column in columns]
    raw_cells = [[_lookup(row, path) for path in paths] for row in rows]
    cells = [[_cell_text(value) for value in row] for row in raw_cells]
    widths = [
        max([len(header), *(len(row[index]) for row in cells)])
        for index, header in enumerate(headers)
    ]
    numeric = [
        bool(raw_cells) and all(_is_number(row[index]) or row[index] is None for row in raw_cells)
        for index in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    lines = [line(headers), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in cells)
    if not rows:
        lines.append("(none)")
    return "\n".join(lines) + "\n"


def _lookup(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


# -- partner commands ---------------------------------------------------------------------------

TRANSACTION_COLUMNS: tuple[Column, ...] = (
    "transaction_id",
    "type",
    "program",
    "points",
    "member_id",
    "reference",
    "status",
    "created_at",
)
POSTED_COLUMNS: tuple[Column, ...] = (
    ("transaction_id", "transaction.transaction_id"),
    ("type", "transaction.type"),
    ("program", "transaction.program"),
    ("points", "transaction.points"),
    ("reference", "transaction.reference"),
    ("status", "transaction.status"),
    ("available", "balance.available"),
    ("pending", "balance.pending"),
)
HISTORY_COLUMNS: tuple[Column, ...] = (
    "created_at",
    "transaction_id",
    "type",
    "program",
    "points",
    "reference",
    "status",
)


def _add_member_points_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")
    parser.add_argument("points", metavar="POINTS", type=int, help="whole points, at least 1")
    parser.add_argument(
        "--reference", required=True, help="your order or receipt id (1-128 characters)"
    )
    parser.add_argument("--description", help="free text shown on the member's statement")
    _add_idempotency_argument(parser)


def _add_idempotency_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--idempotency-key",
        help="reuse to make a repeated command a no-op (default: a new random key)",
    )


def _add_earn(commands: Commands) -> None:
    parser = commands.add("earn", _run_earn, "Credit points to a member.")
    _add_member_points_arguments(parser)
    parser.add_argument("--program", help="program code to earn in (default: your own)")
    parser.add_argument(
        "--pending", action="store_true", help="credit as pending rather than available"
    )


def _run_earn(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.earn(
        args.member_id,
        args.points,
        args.reference,
        program=args.program,
        description=args.description,
        pending=True if args.pending else None,
        idempotency_key=args.idempotency_key,
    )
    return CommandOutput(data=data, rows=[data], columns=POSTED_COLUMNS)


def _add_burn(commands: Commands) -> None:
    parser = commands.add("burn", _run_burn, "Debit points from a member.")
    _add_member_points_arguments(parser)


def _run_burn(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.burn(
        args.member_id,
        args.points,
        args.reference,
        description=args.description,
        idempotency_key=args.idempotency_key,
    )
    return CommandOutput(data=data, rows=[data], columns=POSTED_COLUMNS)


def _add_balance(commands: Commands) -> None:
    parser = commands.add("balance", _run_balance, "Show a member's balance.")
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")


def _run_balance(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.get_member(args.member_id)
    columns: list[Column] = [
        "member_id",
        "program",
        ("available", "balance.available"),
        ("pending", "balance.pending"),
    ]
    if "tier" in data:
        columns.append("tier")
    return CommandOutput(data=data, rows=[data], columns=columns)


def _add_history(commands: Commands) -> None:
    parser = commands.add("history", _run_history, "List a member's transactions, newest first.")
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")
    parser.add_argument("--limit", type=int, help="page size, 1-100 (API default 25)")
    pages = parser.add_mutually_exclusive_group()
    pages.add_argument("--cursor", help="continue from a previous page's next_cursor")
    pages.add_argument("--all", action="store_true", help="follow every page to the end")


def _run_history(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    if args.all:
        items = list(client.iter_transactions(args.member_id, page_size=args.limit))
        data: dict[str, Any] = {"items": items, "next_cursor": None}
        return CommandOutput(data=data, rows=items, columns=HISTORY_COLUMNS)

    data = client.list_transactions(args.member_id, limit=args.limit, cursor=args.cursor)
    next_cursor = data.get("next_cursor")
    footer = (
        f"more: pointsnet history {args.member_id} --cursor {next_cursor}" if next_cursor else None
    )
    return CommandOutput(
        data=data, rows=data.get("items", []), columns=HISTORY_COLUMNS, footer=footer
    )


def _add_reverse(commands: Commands) -> None:
    parser = commands.add("reverse", _run_reverse, "Reverse a transaction, wholly or in part.")
    parser.add_argument("transaction_id", metavar="TRANSACTION_ID")
    parser.add_argument("--points", type=int, help="reverse only this many points")
    parser.add_argument("--reason", help="why, kept on the reversal")
    _add_idempotency_argument(parser)


def _run_reverse(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.reverse(
        args.transaction_id,
        points=args.points,
        reason=args.reason,
        idempotency_key=args.idempotency_key,
    )
    return CommandOutput(data=data, rows=[data], columns=TRANSACTION_COLUMNS)


# -- network commands ---------------------------------------------------------------------------

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


def _add_link(commands: Commands) -> None:
    link = commands.group("link", "Propose, confirm, show or revoke a linked account.")
    propose = link.add("propose", _run_propose_link, "Link your member to a member elsewhere.")
    propose.add_argument("member_id", metavar="MEMBER", help="your own member id")
    propose.add_argument("partner_program", metavar="PROGRAM", help="the other program's code")
    propose.add_argument("partner_member_id", metavar="PARTNER_MEMBER")
    _add_idempotency_argument(propose)
    confirm = link.add("confirm", _run_confirm_link, "Confirm a link the other partner proposed.")
    confirm.add_argument("link_id", metavar="LINK_ID")
    _add_idempotency_argument(confirm)
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


def _add_rates(commands: Commands) -> None:
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


def _add_quote(commands: Commands) -> None:
    parser = commands.add("quote", _run_quote, "Lock a rate to move a member's points.")
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")
    parser.add_argument("from_program", metavar="FROM")
    parser.add_argument("to_program", metavar="TO")
    parser.add_argument("points", metavar="POINTS", type=int, help="points of FROM to move")
    _add_idempotency_argument(parser)


def _run_quote(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.create_quote(
        args.member_id,
        args.from_program,
        args.to_program,
        args.points,
        idempotency_key=args.idempotency_key,
    )
    return CommandOutput(data=data, rows=[data], columns=QUOTE_COLUMNS)


def _add_exchange(commands: Commands) -> None:
    parser = commands.add("exchange", _run_exchange, "Execute a quote: both legs at once.")
    parser.add_argument("quote_id", metavar="QUOTE_ID")
    _add_idempotency_argument(parser)


def _run_exchange(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.exchange(args.quote_id, idempotency_key=args.idempotency_key)
    return CommandOutput(data=data, rows=[data], columns=EXCHANGE_COLUMNS)


# -- admin commands -----------------------------------------------------------------------------

PARTNER_COLUMNS: tuple[Column, ...] = (
    "partner_id",
    "name",
    "program",
    "point_value",
    "currency",
    "created_at",
)
PARTNER_SIGNING_COLUMNS: tuple[Column, ...] = (
    "partner_id",
    "name",
    ("minimum_signature_version", "signing.minimum_version"),
)
PARTNER_RATE_LIMIT_COLUMNS: tuple[Column, ...] = (
    "partner_id",
    "name",
    ("rate", "rate_limit.rate"),
    ("burst", "rate_limit.burst"),
)
KEY_COLUMNS: tuple[Column, ...] = (
    "key_id",
    "partner_id",
    "role",
    "status",
    "created_at",
    "revoked_at",
)
ISSUED_KEY_COLUMNS: tuple[Column, ...] = ("key_id", "partner_id", "role", "secret")
KEY_ROLES = ("partner", "finance", "admin")


def _add_partners(commands: Commands) -> None:
    partners = commands.group(
        "partners", "Add and list the network's partners (admin key).", local_role="admin"
    )
    create = partners.add("create", _run_create_partner, "Add a partner and its program.")
    create.add_argument("partner_id", metavar="PARTNER_ID", help="[a-z0-9-]{2,40}")
    create.add_argument("--name", required=True, help="display name")
    create.add_argument("--program", required=True, help="program code, e.g. STAR")
    create.add_argument("--point-value", required=True, help="what one point is worth, e.g. 0.0025")
    create.add_argument("--currency", help="ISO 4217 settlement currency (API default USD)")
    _add_idempotency_argument(create)
    partners.add("list", _run_list_partners, "List every partner.")
    rate_limit = partners.add(
        "rate-limit",
        _run_set_partner_rate_limit,
        "Limit all of a partner's keys to RATE requests a second, bursts up to BURST.",
    )
    rate_limit.add_argument(
        "partner_id", metavar="PARTNER", help="network: the finance and admin keys"
    )
    rate_limit.add_argument("rate", metavar="RATE", type=int, help="requests per second, >= 1")
    rate_limit.add_argument("burst", metavar="BURST", type=int, help="requests at once, >= RATE")
    signing = partners.add(
        "signing",
        _run_set_partner_signing,
        "Set the lowest signature version a partner's keys may sign with (2: v2-only).",
    )
    signing.add_argument("partner_id", metavar="PARTNER_ID")
    signing.add_argument(
        "--minimum-version",
        type=int,
        choices=(1, 2),
        required=True,
        help="2 refuses the partner's v1 signatures; 1 accepts both",
    )


def _run_create_partner(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.create_partner(
        args.partner_id,
        args.name,
        args.program,
        args.point_value,
        currency=args.currency,
        idempotency_key=args.idempotency_key,
    )
    return CommandOutput(data=data, rows=[data], columns=PARTNER_COLUMNS)


def _run_set_partner_rate_limit(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.set_rate_limit(args.partner_id, args.rate, args.burst)
    return CommandOutput(data=data, rows=[data], columns=PARTNER_RATE_LIMIT_COLUMNS)


def _run_set_partner_signing(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.set_signing(args.partner_id, args.minimum_version)
    return CommandOutput(data=data, rows=[data], columns=PARTNER_SIGNING_COLUMNS)


def _run_list_partners(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    items = client.list_partners()
    return CommandOutput(data={"items": items}, rows=items, columns=PARTNER_COLUMNS)


def _add_keys(commands: Commands) -> None:
    keys = commands.group(
        "keys", "Issue, list and revoke partners' API keys (admin key).", local_role="admin"
    )
    issue = keys.add("issue", _run_issue_key, "Issue a key; its secret is shown this once only.")
    issue.add_argument("partner_id", metavar="PARTNER_ID")
    issue.add_argument(
        "--key-role",
        choices=KEY_ROLES,
        default="partner",
        dest="key_role",
        help="what the new key may call (default partner)",
    )
    _add_idempotency_argument(issue)
    listing = keys.add("list", _run_list_keys, "List a partner's keys (never their secrets).")
    listing.add_argument("partner_id", metavar="PARTNER_ID")
    revoke = keys.add("revoke", _run_revoke_key, "Revoke a key.")
    revoke.add_argument("partner_id", metavar="PARTNER_ID")
    revoke.add_argument("key_id", metavar="KEY_ID")


def _run_issue_key(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.issue_key(args.partner_id, args.key_role, idempotency_key=args.idempotency_key)
    return CommandOutput(
        data=data,
        rows=[data],
        columns=ISSUED_KEY_COLUMNS,
        footer="Store the secret now: it is not shown again.",
    )


def _run_list_keys(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    items = client.list_keys(args.partner_id)
    return CommandOutput(data={"items": items}, rows=items, columns=KEY_COLUMNS)


def _run_revoke_key(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.revoke_key(args.partner_id, args.key_id)
    return CommandOutput(
        data=data,
        rows=[data],
        columns=KEY_COLUMNS,
        footer="Refused everywhere within the network's KeyCacheSeconds (30 s by default).",
    )


# -- finance commands ---------------------------------------------------------------------------

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


def _add_settlements(commands: Commands) -> None:
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
    _add_idempotency_argument(approve)
    dispute = settlements.add("dispute", _run_dispute_settlement, "Dispute a settlement.")
    dispute.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    dispute.add_argument("--reason", required=True, help="what is contested")
    _add_idempotency_argument(dispute)
    paid = settlements.add("mark-paid", _run_mark_settlement_paid, "Record a settlement's payment.")
    paid.add_argument("settlement_id", metavar="SETTLEMENT_ID")
    paid.add_argument("--payment-reference", required=True, help="the transfer's reference")
    paid.add_argument("--reason", help="a note for the audit trail")
    _add_idempotency_argument(paid)


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


def _add_settle(commands: Commands) -> None:
    parser = commands.add(
        "settle",
        _run_settle,
        "Reconcile and settle a period now (admin key), showing progress until it is done.",
    )
    parser.set_defaults(local_role="admin")
    parser.add_argument("--period-start", required=True, help="first UTC day, YYYY-MM-DD")
    parser.add_argument("--period-end", required=True, help="last UTC day, YYYY-MM-DD")
    parser.add_argument("--reason", help="why the run is started, kept in the audit trail")
    _add_idempotency_argument(parser)


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
                f"{step.get('phase')}: {step.get('transactions', 0):,} transactions, "
                f"{step.get('obligations', 0):,} obligations, "
                f"{step.get('accounts_checked', 0):,} accounts"
            )


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


# -- configure ----------------------------------------------------------------------------------

CONFIGURE_FIELDS = (
    ("base_url", "API base URL (e.g. https://abc123.execute-api.us-east-1.amazonaws.com)"),
    ("key_id", "API key id"),
    ("secret", "API key secret"),
    ("partner_id", "Partner id (optional)"),
    ("role", "Key role (optional: partner, finance or admin)"),
)


def _add_configure(commands: Commands) -> None:
    parser = commands.add_local(
        "configure",
        _run_configure,
        "Save a base URL and API key as a profile in ~/.pointsnet/config "
        "(--profile NAME; POINTSNET_CONFIG_FILE moves the file). Prompts for what is not "
        "given, keeping the current value on Enter; a piped stdin answers the prompts.",
    )
    parser.add_argument("--base-url", help="the API's base URL, stage included")
    parser.add_argument("--key-id", help="the API key's id")
    parser.add_argument("--partner-id", help="the key's partner (lets --partner select it)")
    parser.add_argument(
        "--key-role", choices=KEY_ROLES, help="the key's role (lets --role select it)"
    )


def _run_configure(args: argparse.Namespace, options: GlobalOptions) -> CommandOutput:
    config_file = default_config_file()
    current = read_profile(options.profile, config_file)
    given = {
        "base_url": args.base_url,
        "key_id": args.key_id,
        "partner_id": args.partner_id,
        "role": args.key_role,
    }
    values: dict[str, str | None] = {}
    for field, label in CONFIGURE_FIELDS:
        values[field] = given.get(field) or _prompt(
            label, current.get(field), secret=field == "secret"
        )
    missing = [field for field in ("base_url", "key_id", "secret") if not values[field]]
    if missing:
        raise CredentialsError(f"a profile needs {', '.join(missing)}")
    base_url = values["base_url"] or ""
    if not base_url.startswith(("https://", "http://")):
        raise CredentialsError(
            f"the base URL must start with https:// or http://, not {base_url!r}"
        )
    path = save_profile(options.profile, values, config_file)
    profile = options.profile or "default"
    data = {
        "profile": profile,
        "config_file": str(path),
        "base_url": base_url,
        "key_id": values["key_id"],
        "partner_id": values["partner_id"],
        "role": values["role"],
    }
    return CommandOutput(
        data=data,
        rows=[data],
        columns=("profile", "base_url", "key_id", "partner_id", "role"),
        footer=f"Saved to {path}",
    )


def _add_bootstrap(commands: Commands) -> None:
    parser = commands.add_local(
        "bootstrap",
        _run_bootstrap,
        "Issue the network operator's first admin key straight into a deployed stack's tables, "
        "with your AWS credentials, and save it as a profile. The values are the stack's "
        "outputs DirectoryTableName, KeySecretPrefix and ApiUrl.",
    )
    parser.add_argument("--directory-table", required=True, help="the DirectoryTableName output")
    parser.add_argument("--key-secret-prefix", required=True, help="the KeySecretPrefix output")
    parser.add_argument(
        "--base-url", help="the ApiUrl output: saves the key as --profile (default: default)"
    )


def _run_bootstrap(args: argparse.Namespace, options: GlobalOptions) -> CommandOutput:
    # Imported here: the rest of the command line needs no AWS SDK.
    from botocore.exceptions import BotoCoreError

    from pointsnet import errors
    from pointsnet.partners.service import PartnerDirectory
    from pointsnet.store.directory_store import DirectoryStore
    from pointsnet.store.key_secrets import KeySecrets

    directory = PartnerDirectory(
        DirectoryStore(args.directory_table), KeySecrets(args.key_secret_prefix)
    )
    try:
        issued = directory.bootstrap_operator()
    except (errors.PointsNetError, BotoCoreError) as exc:
        raise CommandFailed(f"could not bootstrap with your AWS credentials: {exc}") from exc
    data: dict[str, Any] = {
        "key_id": issued.key_id,
        "partner_id": issued.partner_id,
        "role": str(issued.role),
    }
    if not args.base_url:
        data["secret"] = issued.secret
        return CommandOutput(
            data=data,
            rows=[data],
            columns=("key_id", "partner_id", "role", "secret"),
            footer="Store the secret now: it is not shown again.",
        )
    path = save_profile(
        options.profile,
        {
            "base_url": args.base_url,
            "key_id": issued.key_id,
            "secret": issued.secret,
            "partner_id": issued.partner_id,
            "role": str(issued.role),
        },
    )
    data |= {"profile": options.profile or "default", "config_file": str(path)}
    return CommandOutput(
        data=data,
        rows=[data],
        columns=("key_id", "partner_id", "role", "profile"),
        footer=f"Saved to {path}",
    )


def _prompt(label: str, current: str | None, *, secret: bool) -> str | None:
    """Ask on stderr; Enter (or the end of a piped stdin) keeps the current value."""
    shown = ("****" + current[-4:] if secret else current) if current else "None"
    question = f"{label} [{shown}]: "
    if secret and sys.stdin.isatty():
        answer = getpass.getpass(question, stream=sys.stderr)
    else:
        sys.stderr.write(question)
        sys.stderr.flush()
        answer = sys.stdin.readline()
    return answer.strip() or current


# -- holds (partner) ---------------------------------------------------------------------------


def _add_holds(commands: Commands) -> None:
    capture = commands.add(
        "capture", _run_capture, "Make a hold's points available (earn --pending made it)."
    )
    capture.add_argument("hold_id", metavar="HOLD_ID", help="the hold's transaction id")
    capture.add_argument(
        "--points", type=int, help="capture only these; the rest is released (default: all)"
    )
    _add_idempotency_argument(capture)
    void = commands.add("void", _run_void, "Release every point of a hold.")
    void.add_argument("hold_id", metavar="HOLD_ID", help="the hold's transaction id")
    void.add_argument("--reason", help="why, kept on the void transaction")
    _add_idempotency_argument(void)


def _run_capture(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.capture(args.hold_id, points=args.points, idempotency_key=args.idempotency_key)
    return CommandOutput(data=data, rows=[data], columns=POSTED_COLUMNS)


def _run_void(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.void(args.hold_id, reason=args.reason, idempotency_key=args.idempotency_key)
    return CommandOutput(data=data, rows=[data], columns=POSTED_COLUMNS)


# -- program policy (admin) -------------------------------------------------------------------

POLICY_COLUMNS: tuple[Column, ...] = ("partner_id", "expiry", "tiers", "hold_timeout_days")


def _add_policy(commands: Commands) -> None:
    policy = commands.group(
        "policy",
        "Show or set a program's policy: expiry, tiers, hold timeout (admin key).",
        local_role="admin",
    )
    policy.add("show", _run_show_policy, "A program's policy.").add_argument(
        "partner_id", metavar="PARTNER"
    )
    update = policy.add(
        "set",
        _run_set_policy,
        "Change a program's policy; what you do not mention stays as it is.",
    )
    update.add_argument("partner_id", metavar="PARTNER")
    update.add_argument("--file", help="a JSON policy replacing the whole policy")
    update.add_argument(
        "--expiry",
        choices=("after_earning", "after_inactivity", "none"),
        help="after_earning: each month's points expire MONTHS later; after_inactivity: the "
        "balance expires MONTHS after the last activity; none: points never expire",
    )
    update.add_argument("--months", type=int, help="months points live (with --expiry)")
    update.add_argument("--notice-days", type=int, help="days ahead points.expiring is sent")
    update.add_argument(
        "--tiers",
        help='tiers by points earned in 12 months, lowest first: "member:0,silver:1000"; '
        '"none" for no tiers',
    )
    update.add_argument("--hold-timeout-days", type=int, help="days before a hold is voided")


def _run_show_policy(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.get_policy(args.partner_id)
    return CommandOutput(data=data, rows=[_policy_row(data)], columns=POLICY_COLUMNS)


def _run_set_policy(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.set_policy(args.partner_id, _policy_from_args(client, args))
    return CommandOutput(data=data, rows=[_policy_row(data)], columns=POLICY_COLUMNS)


def _policy_from_args(client: PointsNetClient, args: argparse.Namespace) -> dict[str, Any]:
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as handle:
                loaded = json.load(handle)
        except (OSError, ValueError) as exc:
            raise CommandFailed(f"cannot read a JSON policy from {args.file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise CommandFailed(f"{args.file} does not hold a JSON object")
        return loaded
    current = client.get_policy(args.partner_id)
    policy: dict[str, Any] = {
        "expiry": current.get("expiry"),
        "tiers": current.get("tiers", []),
        "hold_timeout_days": current.get("hold_timeout_days"),
    }
    if args.expiry == "none":
        policy["expiry"] = None
    elif args.expiry or args.months is not None or args.notice_days is not None:
        expiry = dict(policy["expiry"] or {})
        for name, value in (
            ("kind", args.expiry),
            ("months", args.months),
            ("notice_days", args.notice_days),
        ):
            if value is not None:
                expiry[name] = value
        if "kind" not in expiry or "months" not in expiry:
            raise CommandFailed("a new expiry needs --expiry and --months")
        policy["expiry"] = expiry
    if args.tiers is not None:
        policy["tiers"] = _parse_tiers(args.tiers)
    if args.hold_timeout_days is not None:
        policy["hold_timeout_days"] = args.hold_timeout_days
    return {name: value for name, value in policy.items() if value is not None}


def _parse_tiers(text: str) -> list[dict[str, Any]]:
    if text.strip().lower() == "none":
        return []
    tiers = []
    for part in text.split(","):
        name, _, points = part.strip().partition(":")
        if not name or not points.strip().isdigit():
            raise CommandFailed(f'a tier is NAME:POINTS, such as "silver:1000", not "{part}"')
        tiers.append({"name": name.strip(), "min_points": int(points)})
    return tiers


def _policy_row(policy: Mapping[str, Any]) -> dict[str, Any]:
    expiry = policy.get("expiry")
    return {
        "partner_id": policy.get("partner_id"),
        "expiry": (
            f"{expiry['kind']} {expiry['months']} months, notice {expiry['notice_days']} days"
            if expiry
            else "never"
        ),
        "tiers": " ".join(f"{tier['name']}:{tier['min_points']}" for tier in policy["tiers"])
        or "none",
        "hold_timeout_days": policy.get("hold_timeout_days"),
    }


COMMANDS: tuple[CommandRegistrar, ...] = (
    _add_earn,
    _add_burn,
    _add_balance,
    _add_history,
    _add_reverse,
    _add_holds,
    _add_link,
    _add_rates,
    _add_quote,
    _add_exchange,
    _add_partners,
    _add_keys,
    _add_settle,
    _add_settlements,
    _add_policy,
    _add_configure,
    _add_bootstrap,
    add_events,
    add_schedules,
)


if __name__ == "__main__":
    sys.exit(main())
