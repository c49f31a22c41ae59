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


# -- admin commands -----------------------------------------------------------------------------

PARTNER_COLUMNS: tuple[Column, ...] = (
    "partner_id",
    "name",
    "program",
    "point_value",
    "currency",
    "created_at",
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


COMMANDS: tuple[CommandRegistrar, ...] = (
    _add_earn,
    _add_burn,
    _add_balance,
    _add_history,
    _add_reverse,
    _add_partners,
    _add_keys,
    _add_configure,
    _add_bootstrap,
)


if __name__ == "__main__":
    sys.exit(main())
