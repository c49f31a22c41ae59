"""Reconciliation and settlement through the real handlers: figures, checks, workflow, roles."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import boto3
import pytest

from pointsnet.api.admin import create_admin_app
from pointsnet.api.settlement_runs import settlement_runs_router
from pointsnet.auth.caller import Caller, Role
from pointsnet.clock import rfc3339
from pointsnet.journal.layout import journal_shards
from pointsnet.ledger.models import Obligation
from pointsnet.local.template import functions, load_handler
from pointsnet.network.commands import SetRate
from pointsnet.settings import get_settings
from pointsnet.settlement.models import Period
from pointsnet.settlement.on_demand import SettlementRuns
from pointsnet.store.dynamo import to_item
from pointsnet.store.network_store import obligation_pk, obligation_shard
from pointsnet.wiring import (
    default_key_resolver,
    default_rates,
    default_reconciler,
    default_report_bucket,
    default_settlement_store,
)
from tests.helpers import (
    STACK,
    TEMPLATE,
    DemoNetwork,
    LambdaContextStub,
    Reply,
    SignedCaller,
    catch_up_journal,
    partner_directory,
)

OPERATOR = Caller(partner_id="network", key_id="pnk_test", role=Role.ADMIN)
STAR_VALUE, RIDE_VALUE, CAFE_VALUE = Decimal("0.0025"), Decimal("0.01"), Decimal("0.001")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def today() -> date:
    return datetime.now(UTC).date()


def set_rate(from_program: str, to_program: str, rate: str) -> None:
    default_rates().set_rate(
        OPERATOR,
        from_program,
        to_program,
        SetRate.model_validate({"rate": rate, "effective_from": datetime(2020, 1, 1, tzinfo=UTC)}),
    )


def created(reply: Reply) -> dict[str, Any]:
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.body
    return body


def link(
    proposer: SignedCaller, confirmer: SignedCaller, member: str, program: str, other: str
) -> None:
    body = {"member_id": member, "partner_program": program, "partner_member_id": other}
    proposal = created(proposer.call("POST", "/v1/links", body))
    created(confirmer.call("POST", f"/v1/links/{proposal['link_id']}/confirm"))


def exchange(
    caller: SignedCaller, member: str, from_program: str, to_program: str, points: int
) -> dict[str, Any]:
    offer = created(
        caller.call(
            "POST",
            "/v1/quotes",
            {
                "member_id": member,
                "from_program": from_program,
                "to_program": to_program,
                "points": points,
            },
        )
    )
    return created(caller.call("POST", "/v1/exchanges", {"quote_id": offer["quote_id"]}))


def run(
    admin: SignedCaller,
    start: date,
    end: date | None = None,
    *,
    idempotency_key: str = "auto",
    **extra: Any,
) -> Reply:
    body = {"period_start": start.isoformat(), "period_end": (end or start).isoformat()} | extra
    catch_up_journal()
    return admin.call("POST", "/v1/settlement-runs", body, idempotency_key=idempotency_key)


def lines_of(settlement: dict[str, Any]) -> dict[tuple[str, str, str], tuple[int, str, str]]:
    return {
        (line["payer"], line["payee"], line["program"]): (
            line["points"],
            line["exact_amount"],
            line["amount"],
        )
        for line in settlement["lines"]
    }


def check(settlement: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(item for item in settlement["checks"] if item["name"] == name)
    return found


def ledger_table() -> Any:
    return get_settings().ledger_table


@pytest.fixture
def finance_handler(aws: None):  # type: ignore[no-untyped-def]
    return load_handler(functions(TEMPLATE, STACK)["FinanceApiFunction"])


@pytest.fixture
def finance(network: DemoNetwork, finance_handler) -> SignedCaller:  # type: ignore[no-untyped-def]
    """Given the network's finance key, calling the finance function."""
    return SignedCaller(finance_handler, network.finance)


@pytest.fixture
def cafe(network: DemoNetwork, partner_handler) -> SignedCaller:  # type: ignore[no-untyped-def]
    """Given a third partner, a cafe whose CAFE points are worth 0.001 USD."""
    directory = partner_directory()
    directory.create_partner("cafe", "Corner Cafe", "CAFE", CAFE_VALUE)
    return SignedCaller(partner_handler, directory.issue_key("cafe"))


@pytest.fixture
def period(starlodge: SignedCaller, rideco: SignedCaller, cafe: SignedCaller) -> date:
    """Given a day of cross-partner earns, a reversal and exchanges between three partners.

    rideco -> starlodge, STAR: earns of 401 and 583, 2 of them reversed, and an exchange
        of 5 RIDE into 20 STAR: 1002 STAR x 0.0025 = 2.505 exactly;
    cafe -> starlodge, STAR: an earn of 333: 0.8325;
    starlodge -> rideco, RIDE: an exchange of 30 STAR into 7 RIDE: 0.07;
    starlodge -> cafe, CAFE: an exchange of 15 STAR into 30 CAFE: 0.030;
    and starlodge's own earn and burn, which owe nobody anything.
    """
    set_rate("STAR", "RIDE", "0.25")
    set_rate("RIDE", "STAR", "4")
    set_rate("STAR", "CAFE", "2")
    link(rideco, starlodge, "rider-1", "STAR", "guest-1")
    link(cafe, starlodge, "latte-1", "STAR", "guest-1")
    created(starlodge.earn("guest-1", 1000, "stay-1"))
    created(rideco.earn("rider-1", 401, "ride-1", program="STAR"))
    second = created(rideco.earn("rider-1", 583, "ride-2", program="STAR"))
    created(rideco.reverse(second["transaction"]["transaction_id"], points=2, reason="fare fix"))
    created(cafe.earn("latte-1", 333, "coffee-1", program="STAR"))
    exchange(starlodge, "guest-1", "STAR", "RIDE", 30)
    exchange(rideco, "rider-1", "RIDE", "STAR", 5)
    exchange(starlodge, "guest-1", "STAR", "CAFE", 15)
    created(starlodge.burn("guest-1", 100, "minibar-1"))
    return today()


@pytest.fixture
def small_period(starlodge: SignedCaller, rideco: SignedCaller) -> date:
    """Given a day with one cross-partner earn: rideco owes starlodge 400 x 0.0025 = 1.00."""
    link(rideco, starlodge, "rider-1", "STAR", "guest-1")
    created(rideco.earn("rider-1", 400, "ride-1", program="STAR"))
    return today()


# the figures


def test_a_period_settles_to_the_cent(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given the period's activity, priced independently here from points and point values
    expected_exact = {
        ("cafe", "starlodge", "STAR"): (333, 333 * STAR_VALUE),
        ("rideco", "starlodge", "STAR"): (401 + 583 - 2 + 20, (401 + 583 - 2 + 20) * STAR_VALUE),
        ("starlodge", "cafe", "CAFE"): (30, 30 * CAFE_VALUE),
        ("starlodge", "rideco", "RIDE"): (7, 7 * RIDE_VALUE),
    }
    # When an admin runs the period's reconciliation
    reply = run(admin, period)
    # Then 201 with a draft settlement whose every check passed
    settlement = created(reply)
    assert settlement["settlement_id"] == f"stl_{period:%Y%m%d}_{period:%Y%m%d}"
    assert (settlement["status"], settlement["currency"]) == ("draft", "USD")
    assert [item["name"] for item in settlement["checks"] if not item["ok"]] == []
    # And one line per payer, payee and program, each rounded half-even to the cent
    lines = lines_of(settlement)
    assert set(lines) == set(expected_exact)
    for key, (points, exact) in expected_exact.items():
        line_points, line_exact, line_amount = lines[key]
        assert (line_points, Decimal(line_exact)) == (points, exact), key
        assert line_amount == str(cents(exact)), key
    # 2.505 rounds half-even to 2.50 (half-up would say 2.51)
    assert lines[("rideco", "starlodge", "STAR")][2] == "2.50"
    # And the net positions, from the rounded lines, are exact and sum to zero
    positions = {item["partner_id"]: item["amount"] for item in settlement["net_positions"]}
    assert positions == {"cafe": "-0.80", "rideco": "-2.43", "starlodge": "3.23"}
    assert sum(Decimal(amount) for amount in positions.values()) == 0
    # And bilateral netting makes one payment per pair
    assert settlement["bilateral"] == [
        {"payer": "cafe", "payee": "starlodge", "amount": "0.80"},
        {"payer": "rideco", "payee": "starlodge", "amount": "2.43"},
    ]
    # And the rounding residual is on its own line: exact 3.4375, settled 3.43
    rounding = settlement["rounding"]
    assert (Decimal(rounding["exact_total"]), rounding["settled_total"]) == (
        Decimal("3.4375"),
        "3.43",
    )
    assert Decimal(rounding["residual"]) == Decimal("-0.0075")
    # And the run read what was there: 12 transactions (an exchange has two legs), 7 of them
    # cross-partner, each with its obligation
    assert (settlement["run"]["transactions"], settlement["run"]["obligations"]) == (12, 7)
    assert settlement["run"]["cross_partner_transactions"] == 7
    # And finance reads the same settlement, which says who ran it and why
    shown = finance.get(f"/v1/settlements/{settlement['settlement_id']}")
    assert (shown.status, shown.body) == (200, settlement)
    [entry] = settlement["audit"]
    assert (entry["action"], entry["to_status"], entry["partner_id"]) == ("run", "draft", "network")
    assert entry["key_id"] == admin.key.key_id


def test_every_figure_can_be_recomputed_from_the_lines(admin: SignedCaller, period: date) -> None:
    # Given a day of cross-partner earns, a reversal and exchanges (the fixture)
    # When the operator settles it
    settlement = created(run(admin, period))
    # Then each line is its exact amount to the cent, with its rounding,
    # and the net positions and the settled total are the sums of the lines
    positions: dict[str, Decimal] = {}
    for line in settlement["lines"]:
        amount = Decimal(line["amount"])
        assert amount == cents(Decimal(line["exact_amount"]))
        assert Decimal(line["rounding"]) == amount - Decimal(line["exact_amount"])
        positions[line["payee"]] = positions.get(line["payee"], Decimal(0)) + amount
        positions[line["payer"]] = positions.get(line["payer"], Decimal(0)) - amount
    assert {
        item["partner_id"]: Decimal(item["amount"]) for item in settlement["net_positions"]
    } == (positions)
    total = sum(Decimal(line["amount"]) for line in settlement["lines"])
    assert Decimal(settlement["rounding"]["settled_total"]) == total


def test_a_period_without_cross_partner_activity_settles_to_nothing(
    admin: SignedCaller, starlodge: SignedCaller
) -> None:
    # Given a day on which starlodge only earned for its own member
    created(starlodge.earn("guest-1", 10))
    # When the operator settles it
    settlement = created(run(admin, today()))
    # Then the draft settlement has no lines and no positions
    assert (settlement["lines"], settlement["net_positions"]) == ([], [])
    assert settlement["status"] == "draft"


def test_a_captured_hold_is_owed_and_an_open_one_is_not_yet(
    admin: SignedCaller, rideco: SignedCaller, small_period: date
) -> None:
    # Given rideco's pending earns for rider-1: 400 STAR held then 300 captured, 50 still held
    held = created(rideco.earn("rider-1", 400, "ride-h1", program="STAR", pending=True))
    created(rideco.earn("rider-1", 50, "ride-h2", program="STAR", pending=True))
    hold_id = held["transaction"]["transaction_id"]
    created(rideco.call("POST", f"/v1/transactions/{hold_id}/capture", {"points": 300}))
    # When the day is settled
    settlement = created(run(admin, small_period))
    # Then rideco owes for the 400 earned and the 300 captured, and the balances with
    # their pending points match the entries
    assert lines_of(settlement) == {("rideco", "starlodge", "STAR"): (700, "1.7500", "1.75")}
    assert [item["name"] for item in settlement["checks"] if not item["ok"]] == []


# re-runs


def test_a_re_run_of_an_unapproved_period_replaces_it(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given a settled day, not yet approved
    first = created(run(admin, period))
    # When the period is run again
    again = created(run(admin, period))
    # Then it is the same settlement with the same figures, one version on
    assert again["settlement_id"] == first["settlement_id"]
    for part in ("lines", "bilateral", "net_positions", "rounding", "checks"):
        assert again[part] == first[part]
    assert again["version"] == first["version"] + 1
    assert [entry["action"] for entry in again["audit"]] == ["run", "run"]
    listed = finance.get("/v1/settlements").body["items"]
    assert [item["settlement_id"] for item in listed] == [first["settlement_id"]]


def test_an_approved_settlement_never_changes_and_a_difference_is_an_adjustment(
    admin: SignedCaller, finance: SignedCaller, rideco: SignedCaller, period: date
) -> None:
    # Given the period's settlement, approved
    base = created(run(admin, period))
    approved = created(finance.call("POST", f"/v1/settlements/{base['settlement_id']}/approve"))
    # And a late cross-partner earn in the same period: 200 STAR = 0.50
    created(rideco.earn("rider-1", 200, "ride-late", program="STAR"))
    # When the period is run again
    adjustment = created(run(admin, period))
    # Then an adjustment carries only the difference
    assert adjustment["settlement_id"] == f"{base['settlement_id']}_a1"
    assert (adjustment["kind"], adjustment["adjusts"]) == ("adjustment", base["settlement_id"])
    assert lines_of(adjustment) == {("rideco", "starlodge", "STAR"): (200, "0.5000", "0.50")}
    assert {item["partner_id"]: item["amount"] for item in adjustment["net_positions"]} == {
        "rideco": "-0.50",
        "starlodge": "0.50",
    }
    # And the approved settlement is exactly as it was approved, now listing its adjustment
    shown = finance.get(f"/v1/settlements/{base['settlement_id']}").body
    assert shown == approved | {"adjustments": [adjustment["settlement_id"]]}
    # And a further run redoes the open adjustment in place; the approved one stays as it was
    again = created(run(admin, period))
    assert (again["settlement_id"], again["version"]) == (adjustment["settlement_id"], 2)
    assert lines_of(again) == lines_of(adjustment)
    assert finance.get(f"/v1/settlements/{base['settlement_id']}").body == shown


def test_a_frozen_period_with_nothing_new_gives_back_what_was_settled(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given a settled day approved by finance, which freezes it
    base = created(run(admin, small_period))
    approved = created(finance.call("POST", f"/v1/settlements/{base['settlement_id']}/approve"))
    # When the day is run again with nothing new in it
    again = created(run(admin, small_period))
    # Then the approved settlement is answered, with no adjustment made
    assert again == approved
    assert finance.get(f"/v1/settlements/{base['settlement_id']}_a1").status == 404


# checks on a broken ledger


def test_an_inconsistent_balance_makes_the_run_need_review_and_names_the_account(
    admin: SignedCaller, period: date, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given guest-1's stored balance quietly raised by 5 points, straight in the table
    boto3.client("dynamodb").update_item(
        TableName=ledger_table(),
        Key=to_item({"pk": "ACCT#member:starlodge:guest-1", "sk": "BALANCE"}),
        UpdateExpression="SET available = available + :five",
        ExpressionAttributeValues={":five": {"N": "5"}},
    )
    capsys.readouterr()
    # When the period is run
    settlement = created(run(admin, period))
    # Then the settlement needs review, and the check names that account
    assert settlement["status"] == "needs_review"
    failed = check(settlement, "balances_match_entries")
    assert not failed["ok"]
    assert [detail["id"] for detail in failed["details"]] == ["member:starlodge:guest-1"]
    assert "stored available 2195" in failed["details"][0]["message"]
    assert "entries sum to available 2190" in failed["details"][0]["message"]
    # And the other checks still pass, and the failure is a metric
    assert [item["name"] for item in settlement["checks"] if not item["ok"]] == [
        "balances_match_entries"
    ]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    failures = [
        metric["SettlementChecksFailed"] for metric in emitted if "SettlementChecksFailed" in metric
    ]
    assert failures in ([1], [1.0], [[1.0]], [[1]]), emitted


def test_an_unbalanced_entry_makes_the_run_need_review_and_names_the_transaction(
    admin: SignedCaller, period: date
) -> None:
    # Given an entry whose postings do not sum to zero, written straight into the table
    forged = {
        "transaction_id": "txn_forgedforgedforgedforgedfo",
        "type": "earn",
        "status": "posted",
        "program": "STAR",
        "points": 5,
        "partner_id": "starlodge",
        "member_id": "guest-9",
        "initiated_by": "starlodge",
        "reference": "forged",
        "created_at": rfc3339(datetime.now(UTC)),
        "postings": [
            {"account": "program:STAR:issued", "points": -5},
            {"account": "member:starlodge:guest-9", "points": 50},
        ],
    }
    boto3.client("dynamodb").put_item(
        TableName=ledger_table(),
        Item=to_item(
            {
                "pk": f"TXN#{forged['transaction_id']}",
                "sk": "ENTRY",
                "gsi1pk": "ACCT#member:starlodge:guest-9",
                "gsi1sk": f"{forged['created_at']}#{forged['transaction_id']}",
                "account": "member:starlodge:guest-9",
                "transaction": forged,
                "balance_after": {"program": "STAR", "available": 50, "pending": 0},
                "fingerprint": "forged",
            }
        ),
    )
    # When the period is run
    settlement = created(run(admin, period))
    # Then it needs review, naming the transaction, and the account with no balance behind it
    assert settlement["status"] == "needs_review"
    unbalanced = check(settlement, "transactions_balance")
    assert (unbalanced["ok"], unbalanced["offending"]) == (False, 1)
    assert unbalanced["details"][0] == {
        "id": "txn_forgedforgedforgedforgedfo",
        "message": "postings sum to 45, not zero",
    }
    balances = check(settlement, "balances_match_entries")
    assert [detail["id"] for detail in balances["details"]] == ["member:starlodge:guest-9"]


def test_an_obligation_without_its_transaction_is_named(admin: SignedCaller, period: date) -> None:
    # Given an obligation recorded for a transaction the ledger does not have
    now = datetime.now(UTC)
    ghost = "txn_ghostghostghostghostghostgh"
    obligation = {
        "transaction_id": ghost,
        "kind": "cross_partner_earn",
        "created_at": rfc3339(now),
        "terms": {
            "payer": "rideco",
            "payee": "starlodge",
            "program": "STAR",
            "points": 40,
            "unit_price": "0.0025",
            "currency": "USD",
        },
    }
    boto3.client("dynamodb").put_item(
        TableName=ledger_table(),
        Item=to_item(
            {
                "pk": obligation_pk(
                    now.date(), obligation_shard(Obligation.model_validate(obligation))
                ),
                "sk": f"{rfc3339(now)}#{ghost}",
                "obligation": obligation,
            }
        ),
    )
    # When the day is settled
    settlement = created(run(admin, period))
    # Then the settlement needs review, its check naming the obligation's transaction
    assert settlement["status"] == "needs_review"
    matched = check(settlement, "obligations_match_transactions")
    assert matched["details"] == [{"id": ghost, "message": "an obligation without its transaction"}]


def test_a_negative_balance_anywhere_is_named(admin: SignedCaller, period: date) -> None:
    # Given a rideco member's balance of -3 written into the ledger table
    boto3.client("dynamodb").put_item(
        TableName=ledger_table(),
        Item=to_item(
            {
                "pk": "ACCT#member:rideco:rider-9",
                "sk": "BALANCE",
                "program": "RIDE",
                "available": -3,
                "pending": 0,
                "version": 1,
            }
        ),
    )
    # When the day is settled
    settlement = created(run(admin, period))
    # Then the negative balance check names the account, and the settlement needs review
    negative = check(settlement, "no_negative_balances")
    assert negative["details"][0]["id"] == "member:rideco:rider-9"
    assert settlement["status"] == "needs_review"


# the workflow


def test_the_workflow_goes_draft_approved_paid_and_records_each_step(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given a draft settlement of a day
    settlement_id = created(run(admin, small_period))["settlement_id"]
    base = f"/v1/settlements/{settlement_id}"
    # When finance approves it, then marks it paid
    approved = created(finance.call("POST", f"{base}/approve", {"reason": "figures checked"}))
    paid = created(finance.call("POST", f"{base}/mark-paid", {"payment_reference": "WIRE-2041"}))
    # Then it is approved then paid, with its payment reference
    assert (approved["status"], paid["status"]) == ("approved", "paid")
    assert paid["payment_reference"] == "WIRE-2041"
    # And the audit trail records each step, who took it, and why
    steps = [
        (entry["action"], entry["from_status"], entry["to_status"], entry["partner_id"])
        for entry in paid["audit"]
    ]
    assert steps == [
        ("run", None, "draft", "network"),
        ("approve", "draft", "approved", "network"),
        ("mark_paid", "approved", "paid", "network"),
    ]
    assert paid["audit"][1]["reason"] == "figures checked"
    assert paid["audit"][1]["key_id"] == finance.key.key_id
    assert paid["audit"][2]["payment_reference"] == "WIRE-2041"
    # And it is listed as paid, no longer as a draft
    listed = finance.get("/v1/settlements", status="paid").body["items"]
    assert [item["settlement_id"] for item in listed] == [settlement_id]
    assert finance.get("/v1/settlements", status="draft").body["items"] == []


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ([], ("mark-paid", {"payment_reference": "P-1"})),
        ([("approve", {})], ("approve", {})),
        ([("approve", {})], ("dispute", {"reason": "too late"})),
        ([("approve", {}), ("mark-paid", {"payment_reference": "P-1"})], ("approve", {})),
        (
            [("approve", {}), ("mark-paid", {"payment_reference": "P-1"})],
            ("mark-paid", {"payment_reference": "P-2"}),
        ),
        ([("dispute", {"reason": "wrong rate"})], ("approve", {})),
        ([("dispute", {"reason": "wrong rate"})], ("mark-paid", {"payment_reference": "P-1"})),
    ],
    ids=[
        "pay a draft",
        "approve twice",
        "dispute once approved",
        "approve once paid",
        "pay twice",
        "approve a dispute",
        "pay a dispute",
    ],
)
def test_the_workflow_refuses_illegal_transitions(
    admin: SignedCaller,
    finance: SignedCaller,
    small_period: date,
    steps: list[tuple[str, dict[str, Any]]],
    refused: tuple[str, dict[str, Any]],
) -> None:
    # Given a settlement taken through some steps of the workflow
    settlement_id = created(run(admin, small_period))["settlement_id"]
    for action, body in steps:
        created(finance.call("POST", f"/v1/settlements/{settlement_id}/{action}", body))
    before = finance.get(f"/v1/settlements/{settlement_id}").body
    # When finance takes a step not allowed from there
    action, body = refused
    reply = finance.call("POST", f"/v1/settlements/{settlement_id}/{action}", body)
    # Then it is a conflict and the settlement is unchanged
    assert (reply.status, reply.code) == (409, "conflict")
    assert finance.get(f"/v1/settlements/{settlement_id}").body == before


def test_a_disputed_settlement_is_redone_by_the_next_run(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given a settlement disputed by finance
    settlement_id = created(run(admin, small_period))["settlement_id"]
    disputed = created(
        finance.call(
            "POST", f"/v1/settlements/{settlement_id}/dispute", {"reason": "rideco contests"}
        )
    )
    assert disputed["status"] == "disputed"
    # When the operator runs the day again, saying why
    redone = created(run(admin, small_period, reason="after the rideco dispute"))
    # Then the same settlement is a draft again, the trail recording the dispute and the reason
    assert (redone["settlement_id"], redone["status"]) == (settlement_id, "draft")
    assert [entry["to_status"] for entry in redone["audit"]] == ["draft", "disputed", "draft"]
    assert redone["audit"][-1]["reason"] == "after the rideco dispute"


def test_workflow_posts_are_idempotent(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given a draft settlement, approved by finance with Idempotency-Key approve-1
    settlement_id = created(run(admin, small_period))["settlement_id"]
    path = f"/v1/settlements/{settlement_id}/approve"
    first = finance.call("POST", path, {}, idempotency_key="approve-1")
    # When the approval is retried with the same key
    again = finance.call("POST", path, {}, idempotency_key="approve-1")
    # Then the first answer is replayed
    assert (again.status, again.body) == (first.status, first.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    # And the replay changed nothing: approved once
    audit = finance.get(f"/v1/settlements/{settlement_id}").body["audit"]
    assert [entry["action"] for entry in audit] == ["run", "approve"]
    # And the same key for another request is refused
    other = finance.call(
        "POST",
        f"/v1/settlements/{settlement_id}/mark-paid",
        {"payment_reference": "P-1"},
        idempotency_key="approve-1",
    )
    assert (other.status, other.code) == (422, "idempotency_key_reused")
    # And an approval with no key is refused
    missing = finance.call("POST", path, {}, idempotency_key=None)
    assert (missing.status, missing.code) == (400, "missing_idempotency_key")


def test_a_run_request_is_idempotent(admin: SignedCaller, small_period: date) -> None:
    # Given a day settled with Idempotency-Key run-1
    body = {"period_start": small_period.isoformat(), "period_end": small_period.isoformat()}
    first = admin.call("POST", "/v1/settlement-runs", body, idempotency_key="run-1")
    # When the run request is retried with the same key
    again = admin.call("POST", "/v1/settlement-runs", body, idempotency_key="run-1")
    # Then the first answer is replayed and no second version is made
    assert (again.status, again.body) == (201, first.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.body["version"] == 1


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("dispute", {}, "reason"),
        ("dispute", {"reason": ""}, "reason"),
        ("mark-paid", {}, "payment_reference"),
        ("approve", {"colour": "green"}, "colour"),
    ],
)
def test_workflow_bodies_are_validated(
    admin: SignedCaller,
    finance: SignedCaller,
    small_period: date,
    action: str,
    body: dict[str, Any],
    field: str,
) -> None:
    # Given a draft settlement
    settlement_id = created(run(admin, small_period))["settlement_id"]
    # When finance disputes it with no reason, pays it with no reference, or sends a stray field
    reply = finance.call("POST", f"/v1/settlements/{settlement_id}/{action}", body)
    # Then it is a validation error naming the field
    assert (reply.status, reply.code) == (422, "validation_error")
    assert any(field in detail["field"] for detail in reply.body["error"]["details"])


def test_an_unknown_settlement_is_not_found(finance: SignedCaller) -> None:
    # Given no settlement of 1 January 2020
    # When finance reads it, its report, or approves it
    # Then each is not found
    for reply in (
        finance.get("/v1/settlements/stl_20200101_20200101"),
        finance.get("/v1/settlements/stl_20200101_20200101/report", format="csv"),
        finance.call("POST", "/v1/settlements/stl_20200101_20200101/approve", {}),
    ):
        assert (reply.status, reply.code) == (404, "not_found")
    # And a settlement id of the wrong form names none either: not found
    malformed = finance.get("/v1/settlements/not-a-settlement")
    assert (malformed.status, malformed.code) == (404, "not_found")


# who may call what


FINANCE_CALLS = [
    ("GET", "/v1/settlements", None),
    ("GET", "/v1/settlements/stl_20200101_20200101", None),
    ("GET", "/v1/settlements/stl_20200101_20200101/report", None),
    ("POST", "/v1/settlements/stl_20200101_20200101/approve", {}),
    ("POST", "/v1/settlements/stl_20200101_20200101/dispute", {"reason": "x"}),
    ("POST", "/v1/settlements/stl_20200101_20200101/mark-paid", {"payment_reference": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), FINANCE_CALLS)
@pytest.mark.parametrize("role", ["starlodge", "admin"])
def test_only_finance_keys_reach_finance_endpoints(
    network: DemoNetwork,
    finance_handler,  # type: ignore[no-untyped-def]
    role: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    # Given a partner's key or the operator's admin key
    caller = SignedCaller(finance_handler, getattr(network, role))
    # When it calls a finance endpoint
    reply = caller.call(method, path, body)
    # Then it is forbidden
    assert (reply.status, reply.code) == (403, "forbidden")


@pytest.mark.parametrize("role", ["starlodge", "finance"])
def test_only_admin_keys_start_runs(
    network: DemoNetwork,
    admin_handler,  # type: ignore[no-untyped-def]
    role: str,
) -> None:
    # Given a partner's key or a finance key
    caller = SignedCaller(admin_handler, getattr(network, role))
    # When it starts a settlement run
    reply = run(caller, today())
    # Then it is forbidden and no settlement is made
    assert (reply.status, reply.code) == (403, "forbidden")
    assert default_settlement_store().get(f"stl_{today():%Y%m%d}_{today():%Y%m%d}") is None


# periods


def test_an_overlapping_period_is_refused(admin: SignedCaller, small_period: date) -> None:
    # Given a settled day
    created(run(admin, small_period))
    # When a period of it and the day before is run
    reply = run(admin, small_period - timedelta(days=1), small_period)
    # Then it is a conflict naming the settlement it overlaps
    assert (reply.status, reply.code) == (409, "conflict")
    assert f"stl_{small_period:%Y%m%d}_{small_period:%Y%m%d}" in reply.body["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"period_start": "2030-01-01", "period_end": "2030-01-01"},
        {"period_start": "2025-01-02", "period_end": "2025-01-01"},
        {"period_start": "2025-01-01"},
        {"period_start": 1735689600, "period_end": "2025-01-01"},
        {"period_start": "2024-01-01", "period_end": "2025-06-01"},
        {"period_start": "2025-01-01", "period_end": "2025-01-01", "extra": 1},
    ],
    ids=["future", "reversed", "no end", "unix time", "over a year", "unknown field"],
)
def test_an_invalid_period_is_a_validation_error(admin: SignedCaller, body: dict[str, Any]) -> None:
    # Given a period in the future, reversed, open, in unix time, over a year, or with more
    # When the operator runs it
    reply = admin.call("POST", "/v1/settlement-runs", body)
    # Then it is a validation error
    assert (reply.status, reply.code) == (422, "validation_error")


# reports


def test_a_report_missing_from_the_bucket_is_rendered_again(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given a settled day whose CSV report was deleted from the reports bucket
    settlement = created(run(admin, small_period))
    bucket = default_report_bucket()
    key = f"settlements/{settlement['settlement_id']}/v1/report.csv"
    boto3.client("s3").delete_object(Bucket=bucket.bucket, Key=key)
    # When finance gets the CSV report
    reply = finance.get(f"/v1/settlements/{settlement['settlement_id']}/report", format="csv")
    # Then it is rendered again, answered, and stored back in the bucket
    assert reply.status == 200
    assert reply.body.startswith("settlement_id,period_start")
    assert bucket.get(key) is not None


# the run's steps: plan, a check per journal shard and day, settle


def reconciliation_handler():  # type: ignore[no-untyped-def]
    return load_handler(functions(TEMPLATE, STACK)["ReconciliationFunction"])


def run_steps(event: dict[str, Any]) -> dict[str, Any]:
    """Run the state machine's three steps through the reconciliation function, as Step
    Functions does: plan, every item of the Map, then settle."""
    handler = reconciliation_handler()
    context = LambdaContextStub(function_name="ReconciliationFunction")
    plan = handler({"step": "plan", "run": event, "execution": "exec-1"}, context)
    for item in plan["items"]:
        handler({"step": "check", "run_id": plan["run_id"], "item": item}, context)
    settled: dict[str, Any] = handler({"step": "settle", "run_id": plan["run_id"]}, context)
    return {"plan": plan, "settled": settled}


def test_the_state_machine_steps_settle_the_period_as_one_process_does(
    admin: SignedCaller, period: date
) -> None:
    # Given the period's activity, journaled
    catch_up_journal()
    # When the state machine's steps run it, one Lambda per journal shard of the day
    steps = run_steps({"period_start": period.isoformat(), "period_end": period.isoformat()})
    # Then the plan has one item per shard of the day, and the settlement is written
    assert len(steps["plan"]["items"]) == journal_shards()
    assert steps["settled"]["complete"] is True
    sharded = default_settlement_store().get(steps["settled"]["settlement_id"])
    assert sharded is not None and sharded.status.value == "draft"
    assert sharded.run.invocations == journal_shards()
    # And its figures are, to the cent, the ones a run in one process finds
    in_one_process = created(run(admin, period))
    for part in ("lines", "bilateral", "net_positions", "rounding", "checks"):
        assert sharded.model_dump(mode="json")[part] == in_one_process[part]
    positions = {item["partner_id"]: item["amount"] for item in in_one_process["net_positions"]}
    assert positions == {"cafe": "-0.80", "rideco": "-2.43", "starlodge": "3.23"}


def test_a_run_on_demand_answers_202_until_it_is_done(network: DemoNetwork, period: date) -> None:
    # Given the admin app where runs are started on a state machine that has not run yet
    started: list[tuple[str, dict[str, Any]]] = []
    runs = SettlementRuns(
        default_reconciler(),
        default_settlement_store(),
        starter=lambda run_id, machine_input: started.append((run_id, machine_input)),
        sleep=lambda _: None,
    )
    app = create_admin_app(
        routers=[settlement_runs_router(lambda: runs)], keys=default_key_resolver
    )
    admin = SignedCaller(lambda event, _: app.resolve(event, LambdaContextStub()), network.admin)
    # When the period is run, and the same request is sent again while it runs
    first = run(admin, period, reason="month end", idempotency_key="close-1")
    again = run(admin, period, reason="month end", idempotency_key="close-1")
    # Then both answer 202 with the run, started once on the state machine
    assert (first.status, again.status) == (202, 202), first.body
    assert first.body["status"] == "running" and first.body["items"] == journal_shards()
    ((run_id, machine_input),) = started
    assert first.body["run_id"] == again.body["run_id"] == run_id
    assert machine_input["run_id"] == run_id and machine_input["reason"] == "month end"
    assert admin.get(f"/v1/settlement-runs/{run_id}").body["status"] == "running"
    # And once the state machine has run its steps, the same request answers 201
    run_steps(machine_input)
    done = run(admin, period, reason="month end", idempotency_key="close-1")
    assert done.status == 201, done.body
    positions = {item["partner_id"]: item["amount"] for item in done.body["net_positions"]}
    assert positions == {"cafe": "-0.80", "rideco": "-2.43", "starlodge": "3.23"}
    finished = admin.get(f"/v1/settlement-runs/{run_id}").body
    assert (finished["status"], finished["settled"]) == ("succeeded", done.body["settlement_id"])


def test_an_unknown_run_is_not_found(admin: SignedCaller) -> None:
    # Given no run
    # When one is asked for
    reply = admin.get("/v1/settlement-runs/run_0000")
    # Then it is 404 not_found
    assert (reply.status, reply.code) == (404, "not_found")


def test_a_second_invocation_of_a_running_period_is_told_it_is_in_progress(
    admin: SignedCaller, small_period: date
) -> None:
    # Given a run of the day claimed by another invocation, for another minute
    store = default_settlement_store()
    settlement_id = f"stl_{small_period:%Y%m%d}_{small_period:%Y%m%d}"
    store.claim_run(settlement_id, "someone-else", 0, int(datetime.now(UTC).timestamp()) + 60)
    # When the operator runs the day
    reply = run(admin, small_period)
    # Then it is told the run is in progress
    assert (reply.status, reply.code) == (409, "request_in_progress")


def test_a_failed_check_fails_the_run_and_frees_the_period(
    admin: SignedCaller, small_period: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a journal that cannot be read
    reconciler = default_reconciler()

    def unreadable(prefix: str) -> list[str]:
        raise OSError("the journal bucket is unreachable")

    period = Period(period_start=small_period, period_end=small_period)
    # When the day is run
    with monkeypatch.context() as patched, pytest.raises(OSError):
        patched.setattr(reconciler.journal_objects, "keys", unreadable)
        reconciler.reconcile(period)
    # Then the run is recorded as failed, and the next run may take the period at once
    assert created(run(admin, small_period))["status"] == "draft"


def test_the_failed_run_alarm_watches_the_state_machine_and_its_function() -> None:
    # Given the template's alarm for failed runs
    alarm = TEMPLATE["Resources"]["SettlementRunFailedAlarm"]["Properties"]
    # When its metrics are read
    watched = {
        query["MetricStat"]["Metric"]["MetricName"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    # Then it counts failed executions and the function's errors
    assert watched == {"ExecutionsFailed", "Errors"}


def test_the_reconciliation_function_settles_the_period_of_its_event(small_period: date) -> None:
    # Given the template's reconciliation function and a day with a cross-partner earn
    catch_up_journal()
    handler = reconciliation_handler()
    # When it is invoked with an event naming the day, and no step
    result = handler(
        {"period_start": small_period.isoformat(), "period_end": small_period.isoformat()},
        LambdaContextStub(function_name="ReconciliationFunction"),
    )
    # Then it settles the day in that invocation, recorded as the scheduler's run
    assert result["complete"] is True
    assert result["settlement_id"] == f"stl_{small_period:%Y%m%d}_{small_period:%Y%m%d}"
    stored = default_settlement_store().get(result["settlement_id"])
    assert stored is not None and stored.audit[0].partner_id == "scheduler"
    assert [line.amount for line in stored.lines] == [Decimal("1.00")]


def test_the_schedule_settles_the_previous_utc_day(aws: None) -> None:
    # Given the schedule's input: one day, ending yesterday (UTC)
    machine_input = json.loads(
        TEMPLATE["Resources"]["ReconciliationStateMachine"]["Properties"]["Events"]["Scheduled"][
            "Properties"
        ]["Input"]["Fn::Sub"].replace("${SettlementPeriodDays}", "1")
    )
    # When the state machine's steps run it
    steps = run_steps(machine_input)
    # Then it settles yesterday, a day over before the run: not provisional
    yesterday = today() - timedelta(days=1)
    assert steps["settled"]["settlement_id"] == f"stl_{yesterday:%Y%m%d}_{yesterday:%Y%m%d}"
    settled = default_settlement_store().get(steps["settled"]["settlement_id"])
    assert settled is not None and settled.provisional is False


def test_a_finished_run_tells_each_partner_its_settlement_is_ready(
    admin: SignedCaller, small_period: date
) -> None:
    # Given partners listening on the network's event bus
    from tests.points_life import Events

    events = Events.listen()
    # When the period is settled
    settlement = created(run(admin, small_period))
    # Then each partner with a position hears settlement.ready with its own amount
    ready = [event for event in events.received() if event["detail-type"] == "settlement.ready"]
    assert {
        (event["detail"]["partner_id"], event["detail"]["data"]["amount"]) for event in ready
    } == {
        ("starlodge", "1.00"),
        ("rideco", "-1.00"),
    }
    assert {event["detail"]["data"]["settlement_id"] for event in ready} == {
        settlement["settlement_id"]
    }


def test_a_long_period_is_planned_in_runs_of_days_that_cover_every_shard_and_day(
    aws: None,
) -> None:
    # Given a run of 100 days: 6,400 shard-days, more than one Map input holds as items
    reconciler = default_reconciler()
    start = date(2025, 1, 1)
    record = reconciler.plan(Period(period_start=start, period_end=start + timedelta(days=99)))
    # When its items are listed
    items = reconciler.items(record)
    # Then there are at most 4,096, and together they name each shard of each day once
    assert len(items) <= 4096 and record.items == 100 * journal_shards()
    covered = [
        (item.day + timedelta(days=offset), item.shard)
        for item in items
        for offset in range(item.days)
    ]
    assert len(covered) == len(set(covered)) == record.items
