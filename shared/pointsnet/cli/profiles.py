"""Commands that save credentials and call no API: `configure` and the operator's `bootstrap`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from pointsnet.cli.admin import KEY_ROLES
from pointsnet.cli.output import CommandOutput
from pointsnet.cli.registry import CommandFailed, Commands, GlobalOptions
from pointsnet.credentials import CredentialsError, default_config_file, read_profile, save_profile

CONFIGURE_FIELDS = (
    ("base_url", "API base URL (e.g. https://abc123.execute-api.us-east-1.amazonaws.com)"),
    ("key_id", "API key id"),
    ("secret", "API key secret"),
    ("partner_id", "Partner id (optional)"),
    ("role", "Key role (optional: partner, finance or admin)"),
)


def add_configure(commands: Commands) -> None:
    parser = commands.add_local(
        "configure",
        _run_configure,
        "Save a base URL and API key as a profile in ~/.pointsnet/config "
        "(--profile NAME; POINTSNET_CONFIG_FILE moves the file). Prompts for what is not "
        "given, keeping the current value on Enter; a piped stdin answers the prompts.",
        example="pointsnet configure --profile prod --base-url "
        "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
    )
    parser.add_argument("--base-url", help="the API's base URL, stage included")
    parser.add_argument("--key-id", help="the API key's id")
    parser.add_argument("--partner-id", help="the key's partner (lets --partner select it)")
    parser.add_argument(
        "--key-role", choices=KEY_ROLES, help="the key's role (lets --role select it)"
    )


def _run_configure(args: argparse.Namespace, options: GlobalOptions) -> CommandOutput:
    if args.base_url:
        _check_base_url(args.base_url)  # before any prompt: a bad flag is said first
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
    _check_base_url(base_url)
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


def _check_base_url(base_url: str) -> None:
    if not base_url.startswith(("https://", "http://")):
        raise CredentialsError(
            f"the base URL must start with https:// or http://, not {base_url!r}"
        )


def add_bootstrap(commands: Commands) -> None:
    parser = commands.add_local(
        "bootstrap",
        _run_bootstrap,
        "Issue the network operator's first admin key straight into a deployed stack's tables, "
        "with your AWS credentials, and save it as a profile. The values are the stack's "
        "outputs DirectoryTableName, KeySecretPrefix and ApiUrl.",
        example="pointsnet --profile prod bootstrap --directory-table pointsnet-Directory "
        "--key-secret-prefix pointsnet/keys/ --base-url "
        "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
    )
    parser.add_argument("--directory-table", required=True, help="the DirectoryTableName output")
    parser.add_argument("--key-secret-prefix", required=True, help="the KeySecretPrefix output")
    parser.add_argument(
        "--base-url", help="the ApiUrl output: saves the key as --profile (default: default)"
    )


def _run_bootstrap(args: argparse.Namespace, options: GlobalOptions) -> CommandOutput:
    # Imported here: the rest of the command line needs no AWS SDK.
    from pointsnet import errors
    from pointsnet.wiring import bootstrap_operator

    try:
        issued = bootstrap_operator(
            directory_table=args.directory_table, key_secret_prefix=args.key_secret_prefix
        )
    except errors.PointsNetError as exc:
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
