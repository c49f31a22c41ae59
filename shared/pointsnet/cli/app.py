"""`main`: parse the arguments, run the command, render its output, report its errors.

Each command is one registrar in `COMMANDS`, listed in the order `--help` shows them. A
registrar adds a subparser through `Commands` and names a handler that calls the client and
returns a `CommandOutput`. Rendering (table or JSON), credentials and error reporting live
here, so a new command group is a new registrar and touches nothing else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pointsnet.cli import (
    admin,
    finance,
    imports,
    local,
    members,
    metrics,
    network,
    profiles,
    rules,
    webhooks,
)
from pointsnet.cli.output import OUTPUT_FORMATS, format_api_error, render_output
from pointsnet.cli.registry import (
    CommandFailed,
    CommandRegistrar,
    Commands,
    ExampleHelpFormatter,
    GlobalOptions,
    Handler,
    LocalHandler,
    example_epilog,
)
from pointsnet.client import USER_AGENT, PointsNetClient, PointsNetError
from pointsnet.credentials import CredentialsError, resolve_credentials

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE_OR_CREDENTIALS = 2
EXIT_INTERRUPTED = 130

ClientFactory = Callable[[GlobalOptions], PointsNetClient]

COMMANDS: tuple[CommandRegistrar, ...] = (
    members.add_earn,
    members.add_burn,
    rules.add_refer,
    members.add_balance,
    members.add_history,
    members.add_reverse,
    members.add_holds,
    imports.add_earn_batch,
    imports.add_import,
    rules.add_rules,
    network.add_link,
    network.add_rates,
    network.add_quote,
    network.add_exchange,
    admin.add_partners,
    admin.add_keys,
    finance.add_settle,
    finance.add_settlements,
    webhooks.add_statements,
    webhooks.add_webhooks,
    metrics.add_metrics,
    admin.add_policy,
    profiles.add_configure,
    profiles.add_bootstrap,
    local.add_events,
    local.add_schedules,
)


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
        # A command's own check of its arguments together (e.g. earn's exactly-one-of):
        # a usage error, before any credentials are looked up.
        check: Callable[[argparse.Namespace], None] | None = getattr(args, "check_arguments", None)
        if check is not None:
            check(args)
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
        prog="pointsnet",
        description="Call the PointsNet loyalty points API. `pointsnet COMMAND --help` shows "
        "a command's options and an example.",
        epilog=example_epilog("pointsnet earn guest-42 100 --reference stay-1"),
        formatter_class=ExampleHelpFormatter,
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
