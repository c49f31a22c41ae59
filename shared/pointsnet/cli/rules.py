"""A program's earning rules from the CLI: set them from a file, show them, preview an earn;
and `refer`, a member referring a new one.

    pointsnet rules set rules.yaml --program STAR
    pointsnet rules show
    pointsnet rules preview guest-42 --amount 42.50 --item dinner,dining,1,30.00

`--program` defaults to the program of the credentials in use (a profile's `program`,
`POINTSNET_PROGRAM`, or `.pointsnet/local.json`); without one it must be given.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from pointsnet.cli.output import Column, CommandOutput
from pointsnet.cli.registry import CommandFailed, Commands, add_idempotency_argument
from pointsnet.client import PointsNetClient
from pointsnet.credentials import CredentialsError, resolve_credentials

RULE_COLUMNS: tuple[Column, ...] = ("rule_id", "type", "figures", "applies")
SHARE_COLUMNS: tuple[Column, ...] = ("rule_id", "points")
# What a rule gives, by type: the fields shown in the table's `figures`.
FIGURES = {
    "per_amount": ("points", "per", "category"),
    "multiplier": ("factor", "category"),
    "action": ("action", "points", "max_per_day"),
    "referral": ("referrer_points", "referred_points"),
    "comeback": ("inactive_days", "points"),
}


def add_rules(commands: Commands) -> None:
    rules = commands.group(
        "rules",
        "Set, show or preview a program's earning rules.",
        example="pointsnet rules show --program STAR",
    )
    put = rules.add(
        "set",
        _run_set,
        "Replace a program's earning rules with a JSON or YAML file's.",
        example="pointsnet rules set rules.yaml --program STAR",
    )
    put.add_argument(
        "file", metavar="FILE", type=Path, help='{"rules": [...]} or a bare list, JSON or YAML'
    )
    _add_program_argument(put)
    show = rules.add(
        "show",
        _run_show,
        "A program's earning rules in force.",
        example="pointsnet rules show --program STAR",
    )
    _add_program_argument(show)
    preview = rules.add(
        "preview",
        _run_preview,
        "What an earn would give a member now; posts nothing.",
        example="pointsnet rules preview guest-42 --amount 42.50 --item dinner,dining,1,30.00 "
        "--item spa,,1,12.50",
    )
    preview.add_argument("member_id", metavar="MEMBER", help="the member, e.g. guest-42")
    add_earn_basis(preview)
    _add_program_argument(preview)
    add_idempotency_argument(preview)


def _add_program_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--program",
        help="the program's code, e.g. STAR (default: your credentials' program; "
        "required when they name none)",
    )


def _program(args: argparse.Namespace) -> str:
    """`--program`, else the program of the credentials these options pick."""
    if args.program:
        return str(args.program)
    try:
        credentials = resolve_credentials(
            profile=getattr(args, "profile", None),
            partner=getattr(args, "partner", None),
            role=getattr(args, "role", None),
            local_role=getattr(args, "local_role", None),
        )
    except CredentialsError:
        credentials = None
    if credentials is None or not credentials.program:
        raise CommandFailed("--program is required: your credentials name no program")
    return credentials.program


def add_earn_basis(parser: argparse.ArgumentParser) -> None:
    """POINTS, or --amount with --item lines, or --action: what an earn is priced from."""
    parser.add_argument("points", metavar="POINTS", type=int, nargs="?", help="whole points")
    parser.add_argument("--amount", help='the spend, a decimal such as "42.50": rules price it')
    parser.add_argument(
        "--item",
        action="append",
        metavar="SKU,CATEGORY,QTY,AMOUNT",
        type=_item_argument,
        help="a line of the spend (repeatable; CATEGORY may be empty), e.g. latte,coffee,2,7.50",
    )
    parser.add_argument("--action", help="a custom action the rules give points for, e.g. review")
    # Checked by `main` right after parsing: a usage error, before any credentials or request.
    parser.set_defaults(check_arguments=partial(_check_earn_basis, parser))


def _check_earn_basis(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    problem = _earn_basis_problem(args)
    if problem:
        parser.error(problem)


def _earn_basis_problem(args: argparse.Namespace) -> str | None:
    given = [value for value in (args.points, args.amount, args.action) if value is not None]
    if len(given) != 1:
        return "give exactly one of POINTS, --amount or --action"
    if args.item and args.amount is None:
        return "--item goes only with --amount"
    return None


def earn_basis(args: argparse.Namespace) -> dict[str, Any]:
    """The earn body's points, amount and items, or action; a usage error before any call."""
    problem = _earn_basis_problem(args)
    if problem:
        raise CommandFailed(problem)
    basis: dict[str, Any] = {}
    if args.points is not None:
        basis["points"] = args.points
    if args.amount is not None:
        basis["amount"] = args.amount
        if args.item:
            basis["items"] = [item if isinstance(item, dict) else _item(item) for item in args.item]
    if args.action is not None:
        basis["action"] = args.action
    return basis


def _item_argument(text: str) -> dict[str, Any]:
    try:
        return _item(text)
    except CommandFailed as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _item(text: str) -> dict[str, Any]:
    parts = [part.strip() for part in text.split(",")]
    if (
        len(parts) != 4
        or not parts[0]
        or not parts[2].isdigit()
        or int(parts[2]) < 1
        or not _is_decimal(parts[3])
    ):
        raise CommandFailed(
            f"bad --item {text!r}: expected SKU,CATEGORY,QTY,AMOUNT with QTY a whole number "
            "of at least 1 and AMOUNT a decimal, e.g. latte,coffee,2,7.50"
        )
    sku, category, quantity, amount = parts
    item: dict[str, Any] = {"sku": sku, "quantity": int(quantity), "amount": amount}
    if category:
        item["category"] = category
    return item


def _is_decimal(text: str) -> bool:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return False
    return value.is_finite() and value >= 0


class _ExactLoader(yaml.SafeLoader):
    """YAML with its decimals kept as written: `per: 1.50` is the string "1.50", not a float
    (which the API refuses as inexact)."""


def _decimal_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal_text)


def _run_set(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    rules = _rules_file(args.file)
    data = client.set_earning_rules(_program(args), rules)
    return _rules_output(data)


def _run_show(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return _rules_output(client.earning_rules(_program(args)))


def _run_preview(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    basis = earn_basis(args)
    data = client.preview_earn(
        _program(args), args.member_id, idempotency_key=args.idempotency_key, **basis
    )
    rows = [*data.get("rules", []), {"rule_id": "total", "points": data.get("points")}]
    return CommandOutput(data=data, rows=rows, columns=SHARE_COLUMNS)


def _rules_file(path: Path) -> list[dict[str, Any]]:
    try:
        document = yaml.load(path.read_text(), Loader=_ExactLoader)  # YAML reads JSON too
    except (OSError, yaml.YAMLError) as exc:
        raise CommandFailed(f"{path}: {exc}") from exc
    rules = document.get("rules") if isinstance(document, dict) else document
    if not isinstance(rules, list):
        raise CommandFailed(f'{path}: expected {{"rules": [...]}} or a list of rules')
    return json.loads(json.dumps(rules, default=str))


def _rules_output(data: dict[str, Any]) -> CommandOutput:
    rows = [
        {
            "rule_id": rule.get("rule_id"),
            "type": rule.get("type"),
            "figures": _figures(rule),
            "applies": _applies(rule),
        }
        for rule in data.get("rules", [])
    ]
    return CommandOutput(data=data, rows=rows, columns=RULE_COLUMNS)


def _figures(rule: dict[str, Any]) -> str:
    names = FIGURES.get(rule.get("type", ""), ())
    return " ".join(f"{name}={rule[name]}" for name in names if name in rule)


def _applies(rule: dict[str, Any]) -> str:
    when = []
    if rule.get("active_from") or rule.get("active_until"):
        when.append(f"{rule.get('active_from') or '…'} to {rule.get('active_until') or '…'}")
    if rule.get("tiers"):
        when.append("tiers " + ",".join(rule["tiers"]))
    return "; ".join(when) or "always"


def add_refer(commands: Commands) -> None:
    parser = commands.add(
        "refer",
        _run_refer,
        "Record that a member referred a new member.",
        example="pointsnet refer guest-1 guest-2",
    )
    parser.add_argument("member_id", metavar="MEMBER", help="the referrer, your member id")
    parser.add_argument("referred", metavar="REFERRED", help="the new member it referred")
    add_idempotency_argument(parser)


def _run_refer(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.refer(args.member_id, args.referred, idempotency_key=args.idempotency_key)
    return CommandOutput(
        data=data,
        rows=[data],
        columns=("referral_id", "referrer_member_id", "referred_member_id", "status"),
    )
