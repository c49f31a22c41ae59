"""The operator's commands (admin key): partners, their keys, rate limits, signing, policies."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from pointsnet.cli.output import Column, CommandOutput
from pointsnet.cli.registry import CommandFailed, Commands, add_idempotency_argument
from pointsnet.client import PointsNetClient

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


def add_partners(commands: Commands) -> None:
    partners = commands.group(
        "partners",
        "Add and list the network's partners (admin key).",
        local_role="admin",
        example="pointsnet partners list",
    )
    create = partners.add(
        "create",
        _run_create_partner,
        "Add a partner and its program.",
        example="pointsnet partners create beancafe --name 'Bean Cafe' --program BEAN "
        "--point-value 0.004",
    )
    create.add_argument("partner_id", metavar="PARTNER_ID", help="[a-z0-9-]{2,40}")
    create.add_argument("--name", required=True, help="display name")
    create.add_argument("--program", required=True, help="program code, e.g. STAR")
    create.add_argument("--point-value", required=True, help="what one point is worth, e.g. 0.0025")
    create.add_argument("--currency", help="ISO 4217 settlement currency (API default USD)")
    add_idempotency_argument(create)
    partners.add(
        "list", _run_list_partners, "List every partner.", example="pointsnet partners list"
    )
    rate_limit = partners.add(
        "rate-limit",
        _run_set_partner_rate_limit,
        "Limit all of a partner's keys to RATE requests a second, bursts up to BURST.",
        example="pointsnet partners rate-limit rideco 50 100",
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
        example="pointsnet partners signing rideco --minimum-version 2",
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


def add_keys(commands: Commands) -> None:
    keys = commands.group(
        "keys",
        "Issue, list and revoke partners' API keys (admin key).",
        local_role="admin",
        example="pointsnet keys list rideco",
    )
    issue = keys.add(
        "issue",
        _run_issue_key,
        "Issue a key; its secret is shown this once only.",
        example="pointsnet keys issue network --key-role finance",
    )
    issue.add_argument("partner_id", metavar="PARTNER_ID")
    issue.add_argument(
        "--key-role",
        choices=KEY_ROLES,
        default="partner",
        dest="key_role",
        help="what the new key may call (default partner)",
    )
    add_idempotency_argument(issue)
    listing = keys.add(
        "list",
        _run_list_keys,
        "List a partner's keys (never their secrets).",
        example="pointsnet keys list rideco",
    )
    listing.add_argument("partner_id", metavar="PARTNER_ID")
    revoke = keys.add(
        "revoke",
        _run_revoke_key,
        "Revoke a key.",
        example="pointsnet keys revoke rideco pnk_0f3a9c",
    )
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


POLICY_COLUMNS: tuple[Column, ...] = ("partner_id", "expiry", "tiers", "hold_timeout_days")


def add_policy(commands: Commands) -> None:
    policy = commands.group(
        "policy",
        "Show or set a program's policy: expiry, tiers, hold timeout (admin key).",
        local_role="admin",
        example="pointsnet policy show starlodge",
    )
    policy.add(
        "show", _run_show_policy, "A program's policy.", example="pointsnet policy show starlodge"
    ).add_argument("partner_id", metavar="PARTNER")
    update = policy.add(
        "set",
        _run_set_policy,
        "Change a program's policy; what you do not mention stays as it is.",
        example="pointsnet policy set starlodge --expiry after_earning --months 24 "
        "--tiers member:0,silver:1000,gold:5000",
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
    # What the flags say is checked before the current policy is read.
    tiers = _parse_tiers(args.tiers) if args.tiers is not None else None
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
    if tiers is not None:
        policy["tiers"] = tiers
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
