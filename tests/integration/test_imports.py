"""Opening-balance imports: a partner's file, posted by the template's import state machine
(its Distributed Map reading the CSV from S3), through the partner and import functions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from pointsnet.ledger.check import check_ledger
from pointsnet.local.state_machines import (
    ExecutionDriver,
    provision_state_machines,
    s3_reader,
    state_machines,
)
from pointsnet.local.template import functions, load_handler
from pointsnet.settings import get_settings
from pointsnet.settlement.models import Period
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.wiring import default_reconciler
from tests.helpers import STACK, TEMPLATE, LambdaContextStub, SignedCaller, catch_up_journal
from tests.points_life import set_policy

HEADER = "member_id,points,reference,tier,lots\n"


class ImportFunction:
    """The template's import function, called in this process as the state machine calls it."""

    def __init__(self) -> None:
        self.handler = load_handler(functions(TEMPLATE, STACK)["ImportFunction"])
        self.calls = 0
        self.fail_after: int | None = None  # batches to post before failing (a crash)

    def __call__(self, function: str, payload: Any) -> Any:
        assert function == "ImportFunction"
        if "Items" in payload:
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise RuntimeError("the import function was killed")
            self.calls += 1
        return self.handler(payload, LambdaContextStub(function_name="ImportFunction"))


@pytest.fixture
def runs(aws: None) -> Iterator[tuple[ExecutionDriver, ImportFunction]]:
    """Given the template's state machines in moto, run as the local runtime runs them."""
    sfn = boto3.client("stepfunctions")
    provision_state_machines(sfn, TEMPLATE, STACK)
    function = ImportFunction()
    driver = ExecutionDriver(
        sfn,
        state_machines(TEMPLATE, STACK),
        function,
        pool_size=1,
        read_object=s3_reader(boto3.client("s3")),
    )
    yield driver, function
    driver.stop()


def run_executions(driver: ExecutionDriver) -> None:
    for thread in driver.poll():
        thread.join(timeout=60)


def upload_and_start(
    starlodge: SignedCaller, driver: ExecutionDriver, rows: str, key: str = "import-1"
) -> dict[str, Any]:
    created = starlodge.call("POST", "/v1/imports", {}, idempotency_key=key)
    assert created.status == 201, created.body
    assert requests.put(created.body["upload_url"], data=rows.encode()).status_code == 200
    started = starlodge.call("POST", f"/v1/imports/{created.body['import_id']}/start")
    assert started.status == 202, started.body
    run_executions(driver)
    done = starlodge.get(f"/v1/imports/{created.body['import_id']}")
    assert done.status == 200, done.body
    return dict(done.body)


def refused_rows(view: dict[str, Any]) -> list[dict[str, str]]:
    text = requests.get(view["result_url"]).text
    return list(csv.DictReader(io.StringIO(text)))


def balance(starlodge: SignedCaller, member_id: str) -> int:
    reply = starlodge.get(f"/v1/members/{member_id}")
    assert reply.status == 200, reply.body
    return int(reply.body["balance"]["available"])


def ledger_ok() -> bool:
    store = LedgerStore(get_settings().ledger_table)
    return check_ledger(store.scan(lots_and_holds=True), lots_and_holds=True).ok


def test_an_import_posts_every_good_row_once_and_reports_every_bad_one(
    starlodge: SignedCaller, runs: tuple[ExecutionDriver, ImportFunction]
) -> None:
    driver, _ = runs
    # Given a file of three good rows and four bad ones (among them a duplicate member)
    rows = HEADER + (
        "guest-1,1200,,,\n"
        "guest-2,50,crm-2,,\n"
        "bad id!,10,,,\n"
        "guest-3,-5,,,\n"
        "guest-4,12.5,,,\n"
        "guest-1,300,,,\n"
        "guest-5,7,,,\n"
    )
    # When it is uploaded and imported
    view = upload_and_start(starlodge, driver, rows)

    # Then the good rows posted once each, as opening balances, and the others are listed
    assert view["status"] == "completed"
    assert (view["rows_read"], view["rows_posted"], view["rows_refused"]) == (7, 3, 4)
    assert [balance(starlodge, member) for member in ("guest-1", "guest-2", "guest-5")] == [
        1200,
        50,
        7,
    ]
    refused = refused_rows(view)
    assert [(row["line"], row["code"]) for row in refused] == [
        ("4", "validation_error"),
        ("5", "validation_error"),
        ("6", "validation_error"),
        ("7", "conflict"),
    ]
    assert refused[0]["message"].startswith("member_id:")
    assert "already has a STAR account" in refused[3]["message"]
    history = starlodge.get("/v1/members/guest-2/transactions").body["items"]
    assert [(item["type"], item["reference"], item["points"]) for item in history] == [
        ("import", "crm-2", 50)
    ]
    assert ledger_ok()


def test_killed_mid_way_and_started_again_an_import_posts_nothing_twice(
    starlodge: SignedCaller, runs: tuple[ExecutionDriver, ImportFunction]
) -> None:
    driver, function = runs
    # Given 250 rows (three batches), the function killed after posting the first batch
    rows = HEADER + "".join(f"member-{number},{number + 1},,,\n" for number in range(250))
    function.fail_after = 1
    failed = upload_and_start(starlodge, driver, rows)
    assert failed["status"] == "failed"
    assert failed["rows_posted"] == 100

    # When it is started again with the function back
    function.fail_after = None
    again = starlodge.call("POST", f"/v1/imports/{failed['import_id']}/start")
    assert again.status == 202, again.body
    run_executions(driver)
    done = starlodge.get(f"/v1/imports/{failed['import_id']}").body

    # Then every row posted exactly once and the counts say so
    assert (done["status"], done["runs"]) == ("completed", 2)
    assert (done["rows_read"], done["rows_posted"], done["rows_refused"]) == (250, 250, 0)
    assert balance(starlodge, "member-0") == 1
    assert balance(starlodge, "member-249") == 250
    history = starlodge.get("/v1/members/member-10/transactions").body["items"]
    assert len(history) == 1
    assert ledger_ok()


def test_an_import_run_twice_posts_nothing_the_second_time(
    starlodge: SignedCaller, runs: tuple[ExecutionDriver, ImportFunction]
) -> None:
    driver, function = runs
    # Given an import that completed
    rows = HEADER + "guest-1,10,,,\nguest-2,20,,,\n"
    first = upload_and_start(starlodge, driver, rows, key="first")
    assert first["rows_posted"] == 2
    batches = function.calls

    # When it is started again, and the same file is imported again as a new import
    same = starlodge.call("POST", f"/v1/imports/{first['import_id']}/start")
    run_executions(driver)
    second = upload_and_start(starlodge, driver, rows, key="second")

    # Then the completed import is left as it was, and the new one refuses every member
    assert same.status == 202
    assert (same.body["status"], same.body["runs"]) == ("completed", 1)
    assert function.calls == batches + 1  # only the new import's one batch ran
    assert (second["rows_posted"], second["rows_refused"]) == (0, 2)
    assert {row["code"] for row in refused_rows(second)} == {"conflict"}
    assert balance(starlodge, "guest-1") == 10
    assert ledger_ok()


def test_balances_tiers_and_lots_equal_the_file(
    starlodge: SignedCaller, runs: tuple[ExecutionDriver, ImportFunction]
) -> None:
    driver, _ = runs
    # Given a program with tiers, and a file giving a tier and lots by expiry date
    set_policy(
        "starlodge",
        tiers=[
            {"name": "member", "min_points": 0},
            {"name": "gold", "min_points": 5000},
        ],
    )
    soon = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()
    later = (datetime.now(UTC) + timedelta(days=400)).date().isoformat()
    rows = HEADER + (
        f"guest-1,500,,gold,300@{soon};200@{later}\n"
        "guest-2,80,,member,\n"
        "guest-3,10,,platinum,\n"
        f"guest-4,10,,,5@{soon}\n"
    )
    # When it is imported
    view = upload_and_start(starlodge, driver, rows)

    # Then the member has the file's balance, tier and expiring lots
    assert (view["rows_posted"], view["rows_refused"]) == (2, 2)
    member = starlodge.get("/v1/members/guest-1").body
    assert member["balance"]["available"] == 500
    assert member["tier"] == "gold"
    assert [(lot["points"], lot["expires_at"][:10]) for lot in member["expiring"]] == [
        (300, soon),
        (200, later),
    ]
    assert starlodge.get("/v1/members/guest-2").body["tier"] == "member"
    messages = {row["line"]: row["message"] for row in refused_rows(view)}
    assert "unknown tier platinum" in messages["4"]
    assert "must sum to points" in messages["5"]
    assert ledger_ok()


def test_the_days_reconciliation_passes_after_an_import_and_an_earn(
    starlodge: SignedCaller, runs: tuple[ExecutionDriver, ImportFunction]
) -> None:
    driver, _ = runs
    # Given an import of two members and an earn beside it, today
    upload_and_start(starlodge, driver, HEADER + "guest-1,100,,,\nguest-2,40,,,\n")
    assert starlodge.earn("guest-1", 5, "stay-1").status == 201
    # When today is reconciled from the journal
    catch_up_journal()
    today = datetime.now(UTC).date()
    outcome = default_reconciler().reconcile(Period(period_start=today, period_end=today))
    # Then every check passes: the opening balances chain and balance like any entry
    assert outcome.settlement is not None
    assert [check.name for check in outcome.settlement.checks if not check.ok] == []
    assert outcome.settlement.status.value == "draft"


def test_an_import_is_its_own_partners_alone(
    starlodge: SignedCaller,
    rideco: SignedCaller,
    runs: tuple[ExecutionDriver, ImportFunction],
) -> None:
    # Given starlodge's import
    created = starlodge.call("POST", "/v1/imports", {}, idempotency_key="mine")
    import_id = created.body["import_id"]
    # When rideco reads it or starts it, and starlodge starts it before uploading
    read = rideco.get(f"/v1/imports/{import_id}")
    start = rideco.call("POST", f"/v1/imports/{import_id}/start")
    early = starlodge.call("POST", f"/v1/imports/{import_id}/start")
    # Then rideco finds nothing, and the early start says what is missing
    assert (read.status, read.code) == (404, "not_found")
    assert (start.status, start.code) == (404, "not_found")
    assert (early.status, early.code) == (409, "conflict")
    # And the same create again replays the import, a different body is refused
    again = starlodge.call("POST", "/v1/imports", {}, idempotency_key="mine")
    reused = starlodge.call("POST", "/v1/imports", {"description": "other"}, idempotency_key="mine")
    assert again.status == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.body["import_id"] == import_id
    assert (reused.status, reused.code) == (422, "idempotency_key_reused")
