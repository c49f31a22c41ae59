"""A partner's commands for its own members: earn, burn, balance, history, reverse and holds.

Tables show a transaction's points signed for its member (+100 credited, -30 debited), and
name the member on every line with a balance; `--output json` prints the API's answer as is.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from pointsnet.cli.output import Column, CommandOutput, Signed
from pointsnet.cli.registry import Commands, add_idempotency_argument
from pointsnet.cli.rules import add_earn_basis, earn_basis
from pointsnet.client import PointsNetClient, member_points

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
    ("member_id", "transaction.member_id"),
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
BALANCE_COLUMNS: tuple[Column, ...] = (
    "member_id",
    "program",
    ("available", "balance.available"),
    ("pending", "balance.pending"),
)


def signed_transaction(transaction: Mapping[str, Any]) -> dict[str, Any]:
    """The transaction as a table row: its points signed for its member."""
    return {**transaction, "points": Signed(member_points(transaction))}


def posted_output(data: Mapping[str, Any]) -> CommandOutput:
    """A posting's transaction, signed, and the member's balance after it, on one line."""
    row = {**data, "transaction": signed_transaction(data.get("transaction") or {})}
    return CommandOutput(data=data, rows=[row], columns=POSTED_COLUMNS)


def _add_member_points_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")
    parser.add_argument("points", metavar="POINTS", type=int, help="whole points, at least 1")
    parser.add_argument(
        "--reference", required=True, help="your order or receipt id (1-128 characters)"
    )
    parser.add_argument("--description", help="free text shown on the member's statement")
    add_idempotency_argument(parser)


def add_earn(commands: Commands) -> None:
    parser = commands.add(
        "earn",
        _run_earn,
        "Credit points to a member, or let the program's rules price a spend or an action.",
        example=(
            "pointsnet earn guest-42 100 --reference stay-1",
            "pointsnet earn guest-42 --amount 42.50 --item dinner,dining,1,42.50 "
            "--reference stay-2",
        ),
    )
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")
    add_earn_basis(parser)
    parser.add_argument(
        "--reference", required=True, help="your order or receipt id (1-128 characters)"
    )
    parser.add_argument("--description", help="free text shown on the member's statement")
    add_idempotency_argument(parser)
    parser.add_argument("--program", help="program code to earn in (default: your own)")
    parser.add_argument(
        "--pending", action="store_true", help="credit as pending rather than available"
    )


def _run_earn(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    basis = earn_basis(args)
    data = client.earn(
        args.member_id,
        basis.pop("points", None),
        args.reference,
        **basis,
        program=args.program,
        description=args.description,
        pending=True if args.pending else None,
        idempotency_key=args.idempotency_key,
    )
    return posted_output(data)


def add_burn(commands: Commands) -> None:
    parser = commands.add(
        "burn",
        _run_burn,
        "Debit points from a member.",
        example="pointsnet burn guest-42 30 --reference upgrade-1",
    )
    _add_member_points_arguments(parser)


def _run_burn(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.burn(
        args.member_id,
        args.points,
        args.reference,
        description=args.description,
        idempotency_key=args.idempotency_key,
    )
    return posted_output(data)


def add_balance(commands: Commands) -> None:
    parser = commands.add(
        "balance",
        _run_balance,
        "Show a member's balance, tier and points expiring, one line per expiry date.",
        example="pointsnet balance guest-42",
    )
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")


def _run_balance(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.get_member(args.member_id)
    columns = list(BALANCE_COLUMNS)
    if "tier" in data:
        columns.append("tier")
    rows: list[dict[str, Any]] = [dict(data)]
    expiring = data.get("expiring") or []
    if expiring:
        # The first date beside the balance; each later one on a line of its own, which
        # names the member and program again.
        columns.append("expiring")
        rows[0]["expiring"] = _expiring(expiring[0])
        rows.extend(
            {
                "member_id": data.get("member_id"),
                "program": data.get("program"),
                "expiring": _expiring(lot),
            }
            for lot in expiring[1:]
        )
    return CommandOutput(data=data, rows=rows, columns=columns)


def _expiring(lot: Mapping[str, Any]) -> str:
    """`100 on 2027-02-01`: the points and the UTC day they expire at the start of."""
    return f"{lot.get('points')} on {str(lot.get('expires_at', ''))[:10]}"


def add_history(commands: Commands) -> None:
    parser = commands.add(
        "history",
        _run_history,
        "List a member's transactions, newest first; the table signs the points "
        "(+100 credited, -30 debited).",
        example="pointsnet history guest-42 --limit 10",
    )
    parser.add_argument("member_id", metavar="MEMBER", help="your own member id")
    parser.add_argument("--limit", type=int, help="page size, 1-100 (API default 25)")
    pages = parser.add_mutually_exclusive_group()
    pages.add_argument("--cursor", help="continue from a previous page's next_cursor")
    pages.add_argument("--all", action="store_true", help="follow every page to the end")


def _run_history(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    if args.all:
        items = list(client.iter_transactions(args.member_id, page_size=args.limit))
        data: dict[str, Any] = {"items": items, "next_cursor": None}
        return CommandOutput(data=data, rows=_signed(items), columns=HISTORY_COLUMNS)

    data = client.list_transactions(args.member_id, limit=args.limit, cursor=args.cursor)
    next_cursor = data.get("next_cursor")
    footer = (
        f"more: pointsnet history {args.member_id} --cursor {next_cursor}" if next_cursor else None
    )
    return CommandOutput(
        data=data, rows=_signed(data.get("items", [])), columns=HISTORY_COLUMNS, footer=footer
    )


def _signed(transactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [signed_transaction(transaction) for transaction in transactions]


def add_reverse(commands: Commands) -> None:
    parser = commands.add(
        "reverse",
        _run_reverse,
        "Reverse a transaction, wholly or in part.",
        example="pointsnet reverse txn_abcdefghijklmnopqrstuvwxyz --points 10 --reason refund",
    )
    parser.add_argument("transaction_id", metavar="TRANSACTION_ID")
    parser.add_argument("--points", type=int, help="reverse only this many points")
    parser.add_argument("--reason", help="why, kept on the reversal")
    add_idempotency_argument(parser)


def _run_reverse(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.reverse(
        args.transaction_id,
        points=args.points,
        reason=args.reason,
        idempotency_key=args.idempotency_key,
    )
    return CommandOutput(data=data, rows=[signed_transaction(data)], columns=TRANSACTION_COLUMNS)


def add_holds(commands: Commands) -> None:
    capture = commands.add(
        "capture",
        _run_capture,
        "Make a hold's points available (earn --pending made it).",
        example="pointsnet capture txn_abcdefghijklmnopqrstuvwxyz --points 80",
    )
    capture.add_argument("hold_id", metavar="HOLD_ID", help="the hold's transaction id")
    capture.add_argument(
        "--points", type=int, help="capture only these; the rest is released (default: all)"
    )
    add_idempotency_argument(capture)
    void = commands.add(
        "void",
        _run_void,
        "Release every point of a hold.",
        example="pointsnet void txn_abcdefghijklmnopqrstuvwxyz --reason cancelled",
    )
    void.add_argument("hold_id", metavar="HOLD_ID", help="the hold's transaction id")
    void.add_argument("--reason", help="why, kept on the void transaction")
    add_idempotency_argument(void)


def _run_capture(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.capture(args.hold_id, points=args.points, idempotency_key=args.idempotency_key)
    return posted_output(data)


def _run_void(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    data = client.void(args.hold_id, reason=args.reason, idempotency_key=args.idempotency_key)
    return posted_output(data)
