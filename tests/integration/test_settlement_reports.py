"""Settlement reports as finance reads them, in CSV, JSON and HTML, through the real handlers.

The period fixture (tests/integration/test_settlement.py) owes, in USD:
    rideco -> starlodge, STAR: 1002 points at 0.0025 (4 obligations)   2.50 (exact 2.505)
    cafe -> starlodge, STAR: 333 points at 0.0025 (1)                   0.83 (exact 0.8325)
    starlodge -> rideco, RIDE: 7 points at 0.01 (1)                     0.07
    starlodge -> cafe, CAFE: 30 points at 0.001 (1)                     0.03
so 3.43 is owed adding both directions, and 3.23 moves: rideco pays starlodge 2.43 and cafe
pays starlodge 0.80.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pytest

from pointsnet.settlement.checks import CheckName
from pointsnet.settlement.models import Period
from pointsnet.settlement.settings import get_settlement_settings
from pointsnet.store.ledger_day_reader import LedgerDayReader
from pointsnet.wiring import default_reconciler, default_settlement_store
from tests.helpers import SignedCaller, catch_up_journal
from tests.integration import test_settlement as settling
from tests.integration.test_settlement import created, run

# The settlement tests' fixtures: the finance key, the cafe, and their periods.
cafe = settling.cafe
finance = settling.finance
finance_handler = settling.finance_handler
period = settling.period
small_period = settling.small_period

NAMES = {"starlodge": "Star Lodge Hotels", "rideco": "RideCo", "cafe": "Corner Cafe"}
READABLE_TIME = re.compile(r"\b[1-3]?[0-9] [A-Z][a-z]{2} [0-9]{4}, [0-9]{2}:[0-9]{2} UTC\b")
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z")


def report(finance: SignedCaller, settlement_id: str, report_format: str, **query: str) -> Any:
    reply = finance.get(f"/v1/settlements/{settlement_id}/report", format=report_format, **query)
    assert reply.status == 200, reply.body
    return reply.body


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def of_kind(rows: list[dict[str, str]], kind: str) -> list[dict[str, str]]:
    return [row for row in rows if row["row"] == kind]


def visible_text(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed (style and title left out)."""
    body = re.sub(r"<style>.*?</style>|<title>.*?</title>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&amp;", "&")


# JSON


def test_the_json_report_names_prices_and_traces_every_line(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given the period's settlement, as the API shows it
    settlement = created(run(admin, period))
    shown = finance.get(f"/v1/settlements/{settlement['settlement_id']}").body
    # When finance gets its JSON report
    body = report(finance, settlement["settlement_id"], "json")
    # Then every field of the settlement is there as the API shows it, the parts added to
    for name, value in shown.items():
        if name in ("lines", "bilateral", "net_positions"):
            assert [
                {key: item[key] for key in part}
                for item, part in zip(body[name], value, strict=True)
            ] == value
        else:
            assert body[name] == value, name
    # And partners are named beside their ids
    assert body["partners"] == [
        {"partner_id": partner_id, "name": NAMES[partner_id]} for partner_id in sorted(NAMES)
    ]
    for line in body["lines"]:
        assert (line["payer_name"], line["payee_name"]) == (
            NAMES[line["payer"]],
            NAMES[line["payee"]],
        )
    assert {item["partner_id"]: item["name"] for item in body["net_positions"]} == NAMES
    # And every amount carries its currency
    for part in ("lines", "bilateral", "net_positions"):
        assert {item["currency"] for item in body[part]} == {"USD"}, part
    # And the gross per direction and the cash that actually moves are told apart
    cash = body["cash"]
    assert {
        (item["payer"], item["payee"]): (item["amount"], item["currency"])
        for item in cash["gross_by_direction"]
    } == {
        ("cafe", "starlodge"): ("0.83", "USD"),
        ("rideco", "starlodge"): ("2.50", "USD"),
        ("starlodge", "cafe"): ("0.03", "USD"),
        ("starlodge", "rideco"): ("0.07", "USD"),
    }
    assert (cash["net_cash_moving"], cash["payments"], cash["currency"]) == ("3.23", 2, "USD")
    rideco_pair = next(item for item in body["bilateral"] if item["payer"] == "rideco")
    assert (rideco_pair["gross_payer_to_payee"], rideco_pair["gross_payee_to_payer"]) == (
        "2.50",
        "0.07",
    )
    # And each line says the price per point used and how many obligations it sums
    priced = {
        (line["payer"], line["payee"], line["program"]): (line["unit_prices"], line["obligations"])
        for line in body["lines"]
    }
    assert priced == {
        ("cafe", "starlodge", "STAR"): (["0.0025"], 1),
        ("rideco", "starlodge", "STAR"): (["0.0025"], 4),
        ("starlodge", "cafe", "CAFE"): (["0.001"], 1),
        ("starlodge", "rideco", "RIDE"): (["0.01"], 1),
    }
    # And lists its obligations and their transactions, each a ledger transaction owing it
    ledger = LedgerDayReader(get_settlement_settings().ledger_table)
    for line in body["lines"]:
        assert len(line["obligation_ids"]) == len(line["transaction_ids"]) == line["obligations"]
        for obligation_id, transaction_id in zip(
            line["obligation_ids"], line["transaction_ids"], strict=True
        ):
            assert obligation_id == "obl_" + transaction_id.removeprefix("txn_")
            entry = ledger.entry(transaction_id)
            assert entry is not None and entry.transaction.obligation is not None
            terms = entry.transaction.obligation
            assert (terms.payer, terms.payee, terms.program) == (
                line["payer"],
                line["payee"],
                line["program"],
            )
    assert body["detail"] == {
        "status": "recorded",
        "obligations": 7,
        "csv": f"/v1/settlements/{settlement['settlement_id']}/report?format=csv&detail=lines",
    }
    # And times stay RFC 3339
    assert RFC3339.fullmatch(body["updated_at"]) and RFC3339.fullmatch(body["run"]["started_at"])


# CSV


def test_the_csv_report_has_named_priced_lines_then_gross_net_and_remittance_rows(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given the period's settlement
    settlement = created(run(admin, period))
    # When finance gets its CSV report
    rows = csv_rows(report(finance, settlement["settlement_id"], "csv"))
    # Then its rows come in kinds: the lines and the rounding residual first, as before
    kinds = [row["row"] for row in rows]
    assert kinds[:5] == ["line"] * 4 + ["rounding_residual"]
    assert kinds[5:] == (
        ["gross"] * 4
        + ["bilateral"] * 2
        + ["net_position"] * 3
        + ["net_cash"]
        + ["remittance", "remittance_total"] * 2
    )
    # And every row carries the currency, and partners' names beside their ids
    assert {row["currency"] for row in rows} == {"USD"}
    for row in of_kind(rows, "line") + of_kind(rows, "gross") + of_kind(rows, "bilateral"):
        assert (row["payer_name"], row["payee_name"]) == (NAMES[row["payer"]], NAMES[row["payee"]])
    assert {row["partner_id"]: row["partner_name"] for row in of_kind(rows, "net_position")} == (
        NAMES
    )
    # And each line its price per point and its obligations
    assert [
        (row["payer"], row["payee"], row["unit_prices"], row["obligations"], row["amount"])
        for row in of_kind(rows, "line")
    ] == [
        ("cafe", "starlodge", "0.0025", "1", "0.83"),
        ("rideco", "starlodge", "0.0025", "4", "2.50"),
        ("starlodge", "cafe", "0.001", "1", "0.03"),
        ("starlodge", "rideco", "0.01", "1", "0.07"),
    ]
    # And the gross per direction, the bilateral payments and the net cash moving
    assert [(row["payer"], row["payee"], row["amount"]) for row in of_kind(rows, "gross")] == [
        ("cafe", "starlodge", "0.83"),
        ("rideco", "starlodge", "2.50"),
        ("starlodge", "cafe", "0.03"),
        ("starlodge", "rideco", "0.07"),
    ]
    assert [(row["payer"], row["payee"], row["amount"]) for row in of_kind(rows, "bilateral")] == [
        ("cafe", "starlodge", "0.80"),
        ("rideco", "starlodge", "2.43"),
    ]
    assert [(row["partner_id"], row["amount"]) for row in of_kind(rows, "net_position")] == [
        ("cafe", "-0.80"),
        ("rideco", "-2.43"),
        ("starlodge", "3.23"),
    ]
    [net_cash] = of_kind(rows, "net_cash")
    assert (net_cash["amount"], net_cash["payments"]) == ("3.23", "2")
    # And one remittance per payer, not paid yet
    assert [
        (row["payer"], row["payee"], row["amount"], row["payment_reference"])
        for row in of_kind(rows, "remittance")
    ] == [("cafe", "starlodge", "0.80", ""), ("rideco", "starlodge", "2.43", "")]
    # And the settlement's kind, links and provisional flag are on every row
    assert {(row["kind"], row["adjusts"], row["adjustments"]) for row in rows} == {
        ("settlement", "", "")
    }
    assert {row["provisional"] for row in rows} == {"true"}


def test_the_line_detail_csv_has_one_row_per_obligation_adding_up_to_each_line(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given the period's settlement and its JSON report
    settlement = created(run(admin, period))
    settlement_id = settlement["settlement_id"]
    body = report(finance, settlement_id, "json")
    # When finance follows the report's detail link
    path, _, query = body["detail"]["csv"].partition("?")
    reply = finance.get(path, **dict(part.split("=") for part in query.split("&")))
    # Then it is a CSV attachment of its own
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="{settlement_id}-v1-lines.csv"' in reply.headers["Content-Disposition"]
    rows = csv_rows(reply.body)
    # With one row per obligation, as the JSON report lists them, then the line's total
    for line in body["lines"]:
        key = (line["payer"], line["payee"], line["program"])
        mine = [row for row in rows if (row["payer"], row["payee"], row["program"]) == key]
        obligations, [total] = mine[:-1], mine[-1:]
        assert [row["row"] for row in obligations] == ["obligation"] * line["obligations"]
        assert [row["obligation_id"] for row in obligations] == line["obligation_ids"]
        assert [row["transaction_id"] for row in obligations] == line["transaction_ids"]
        assert {(row["payer_name"], row["payee_name"], row["currency"]) for row in mine} == {
            (NAMES[line["payer"]], NAMES[line["payee"]], "USD")
        }
        for row in obligations:
            assert Decimal(row["amount"]) == int(row["points"]) * Decimal(row["unit_price"])
            assert RFC3339.fullmatch(row["created_at"]) and row["kind"]
        assert total["row"] == "line_total"
        assert sum(Decimal(row["amount"]) for row in obligations) == Decimal(total["amount"])
        assert (total["amount"], total["rounded_amount"], total["obligations"]) == (
            line["exact_amount"],
            line["amount"],
            str(line["obligations"]),
        )
    # And the reversal is there as its own obligation, with negative points
    assert any(row["points"] == "-2" for row in rows)
    # And detail is a CSV only
    refused = finance.get(path, format="json", detail="lines")
    assert (refused.status, refused.code) == (422, "validation_error")


def test_a_run_without_obligation_detail_says_so_rather_than_invent_it(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given a settlement whose run recorded no obligation detail (as runs before it did)
    settlement = created(run(admin, small_period))
    store = default_settlement_store()
    stored = store.get(settlement["settlement_id"])
    assert stored is not None
    store.replace(
        stored.model_copy(
            update={"version": 2, "run": stored.run.model_copy(update={"detail_parts": None})}
        )
    )
    # When finance gets its JSON report and its line detail
    body = report(finance, settlement["settlement_id"], "json")
    detail = finance.get(
        f"/v1/settlements/{settlement['settlement_id']}/report", format="csv", detail="lines"
    )
    # Then the report says the detail was not recorded, and the detail CSV is refused
    assert body["detail"]["status"] == "not_recorded"
    assert [line["obligation_ids"] for line in body["lines"]] == [None]
    assert (detail.status, detail.code) == (409, "conflict")


def test_a_missing_part_of_the_detail_makes_it_incomplete_not_wrong(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given a settlement one of whose run's detail objects is gone from the bucket
    settlement = created(run(admin, period))
    bucket = get_settlement_settings().reports_bucket
    s3 = boto3.client("s3")
    prefix = f"settlements/{settlement['settlement_id']}/runs/{settlement['run']['run_id']}/"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert len(keys) == settlement["run"]["detail_parts"] > 1
    s3.delete_object(Bucket=bucket, Key=keys[0])
    # When finance gets its JSON report and its line detail
    body = report(finance, settlement["settlement_id"], "json")
    detail = finance.get(
        f"/v1/settlements/{settlement['settlement_id']}/report", format="csv", detail="lines"
    )
    # Then the report says the detail is incomplete and lists no ids, and the CSV is refused
    assert body["detail"]["status"] == "incomplete"
    assert {str(line["obligation_ids"]) for line in body["lines"]} == {"None"}
    assert (detail.status, detail.code) == (409, "conflict")


# remittances and payment


def test_a_paid_settlement_remits_per_payer_with_its_payment_reference(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given the period's settlement, approved and marked paid by wire WIRE-77
    settlement_id = created(run(admin, period))["settlement_id"]
    created(finance.call("POST", f"/v1/settlements/{settlement_id}/approve"))
    paid = created(
        finance.call(
            "POST", f"/v1/settlements/{settlement_id}/mark-paid", {"payment_reference": "WIRE-77"}
        )
    )
    paid_at = paid["audit"][-1]["at"]
    # When finance gets its reports
    body = report(finance, settlement_id, "json")
    rows = csv_rows(report(finance, settlement_id, "csv"))
    page = visible_text(report(finance, settlement_id, "html"))
    # Then the JSON has one remittance per payer: whom it pays, how much, and the reference
    assert body["remittances"] == [
        {
            "payer": "cafe",
            "payer_name": "Corner Cafe",
            "currency": "USD",
            "total": "0.80",
            "payments": [
                {
                    "payee": "starlodge",
                    "payee_name": "Star Lodge Hotels",
                    "amount": "0.80",
                    "currency": "USD",
                }
            ],
            "paid": True,
            "payment_reference": "WIRE-77",
            "paid_at": paid_at,
        },
        {
            "payer": "rideco",
            "payer_name": "RideCo",
            "currency": "USD",
            "total": "2.43",
            "payments": [
                {
                    "payee": "starlodge",
                    "payee_name": "Star Lodge Hotels",
                    "amount": "2.43",
                    "currency": "USD",
                }
            ],
            "paid": True,
            "payment_reference": "WIRE-77",
            "paid_at": paid_at,
        },
    ]
    # And the CSV's remittance rows carry it, the time in RFC 3339
    remitted = of_kind(rows, "remittance") + of_kind(rows, "remittance_total")
    assert {(row["payment_reference"], row["paid_at"]) for row in remitted} == {
        ("WIRE-77", paid_at)
    }
    # And the HTML says who paid whom, when (as a person reads a time) and with what reference
    when = datetime.fromisoformat(paid_at.replace("Z", "+00:00"))
    readable = f"{when.day} {when:%b} {when.year}, {when:%H:%M} UTC"
    assert (
        f"RideCo (rideco) Star Lodge Hotels (starlodge) 2.43 USD paid {readable}, reference WIRE-77"
        in page
    )


# adjustments


def test_a_settlement_and_its_adjustment_name_each_other_in_every_view(
    admin: SignedCaller, finance: SignedCaller, rideco: SignedCaller, period: date
) -> None:
    # Given the period's settlement, approved, then a late earn and a second run: an adjustment
    base = created(run(admin, period))
    base_id = base["settlement_id"]
    created(finance.call("POST", f"/v1/settlements/{base_id}/approve"))
    late = created(rideco.earn("rider-1", 200, "ride-late", program="STAR"))
    adjustment_id = created(run(admin, period))["settlement_id"]
    assert adjustment_id == f"{base_id}_a1"
    # When finance reads both, the list, and their reports
    shown = {item: finance.get(f"/v1/settlements/{item}").body for item in (base_id, adjustment_id)}
    listed = {item["settlement_id"]: item for item in finance.get("/v1/settlements").body["items"]}
    approved_only = finance.get("/v1/settlements", status="approved").body["items"]
    # Then the settlement lists its adjustment and the adjustment names what it adjusts
    assert (shown[base_id]["adjustments"], shown[base_id]["adjusts"]) == ([adjustment_id], None)
    assert (shown[adjustment_id]["adjusts"], shown[adjustment_id]["adjustments"]) == (base_id, [])
    assert listed[base_id]["adjustments"] == [adjustment_id]
    assert listed[adjustment_id]["adjusts"] == base_id
    assert [item["adjustments"] for item in approved_only] == [[adjustment_id]]
    # And so do their JSON, CSV and HTML reports
    for settlement_id, adjusts, adjustments in (
        (base_id, None, [adjustment_id]),
        (adjustment_id, base_id, []),
    ):
        body = report(finance, settlement_id, "json")
        assert (body["adjusts"], body["adjustments"]) == (adjusts, adjustments)
        rows = csv_rows(report(finance, settlement_id, "csv"))
        assert {(row["adjusts"], row["adjustments"]) for row in rows} == {
            (adjusts or "", " ".join(adjustments))
        }
    base_page = visible_text(report(finance, base_id, "html"))
    assert f"Adjustments {adjustment_id}" in base_page and "Adjusted." in base_page
    adjustment_page = visible_text(report(finance, adjustment_id, "html"))
    assert f"Adjustment {adjustment_id}" in adjustment_page
    assert f"Kind adjustment of {base_id}" in adjustment_page
    # And the adjustment's line detail is the late earn alone
    detail = csv_rows(report(finance, adjustment_id, "csv", detail="lines"))
    assert [(row["row"], row["transaction_id"], row["points"]) for row in detail] == [
        ("obligation", late["transaction"]["transaction_id"], "200"),
        ("line_total", "", "200"),
    ]


# provisional periods


def test_a_period_that_includes_the_run_day_is_provisional_in_every_view(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given partners listening for settlement.ready
    from tests.points_life import Events

    events = Events.listen()
    # When today, not over yet, is settled
    settlement = created(run(admin, small_period))
    settlement_id = settlement["settlement_id"]
    # Then the settlement and every report say it is provisional
    assert settlement["provisional"] is True
    assert finance.get(f"/v1/settlements/{settlement_id}").body["provisional"] is True
    assert report(finance, settlement_id, "json")["provisional"] is True
    assert {row["provisional"] for row in csv_rows(report(finance, settlement_id, "csv"))} == {
        "true"
    }
    detail = csv_rows(report(finance, settlement_id, "csv", detail="lines"))
    assert {row["provisional"] for row in detail} == {"true"}
    page = visible_text(report(finance, settlement_id, "html"))
    assert "Provisional." in page
    assert "A later run of the period may produce an adjustment of them" in page
    # And so does each partner's settlement.ready
    ready = [event for event in events.received() if event["detail-type"] == "settlement.ready"]
    assert {event["detail"]["data"]["provisional"] for event in ready} == {True}


def test_a_period_that_ended_before_the_run_is_not_provisional(
    finance: SignedCaller, small_period: date
) -> None:
    # Given today's activity, journaled, and a run started tomorrow
    catch_up_journal()
    tomorrow = copy.copy(default_reconciler())
    tomorrow.clock = lambda: datetime.now(UTC) + timedelta(days=1)
    # When it settles today
    outcome = tomorrow.reconcile(Period(period_start=small_period, period_end=small_period))
    assert outcome.settlement is not None
    settlement_id = outcome.settlement.settlement_id
    # Then nothing says provisional: the settlement, the reports, the HTML notice
    assert finance.get(f"/v1/settlements/{settlement_id}").body["provisional"] is False
    assert report(finance, settlement_id, "json")["provisional"] is False
    assert {row["provisional"] for row in csv_rows(report(finance, settlement_id, "csv"))} == {
        "false"
    }
    assert "Provisional" not in report(finance, settlement_id, "html")


# HTML


def test_the_html_report_is_written_for_a_person(
    admin: SignedCaller, finance: SignedCaller, period: date
) -> None:
    # Given the period's settlement
    settlement = created(run(admin, period))
    # When finance opens its HTML report
    html = report(finance, settlement["settlement_id"], "html")
    page = visible_text(html)
    # Then partners are named, with their ids beside
    for partner_id, name in NAMES.items():
        assert f"{name} ({partner_id})" in page
    # And the cash that moves is told apart from what is owed each way
    assert "Net cash moving 3.23 USD in 2 payments" in page
    assert "RideCo (rideco) owes Star Lodge Hotels (starlodge) 2.50 USD" in page
    assert "Star Lodge Hotels (starlodge) owes RideCo (rideco) 0.07 USD" in page
    assert "Settled total" not in page
    # And every amount has its currency, each line its point value and obligations
    assert (
        "RideCo (rideco) Star Lodge Hotels (starlodge) STAR 1002 0.0025 USD 4 2.5050 USD 2.50 USD"
        in page
    )
    assert "+3.23 USD" in page and "-2.43 USD" in page
    # And one remittance per payer
    assert "Corner Cafe (cafe) Star Lodge Hotels (starlodge) 0.80 USD not paid yet" in page
    # And times read as a person reads them, never RFC 3339
    assert READABLE_TIME.search(page) and not RFC3339.search(page)
    # And it tells where the line detail is
    assert "report?format=csv&detail=lines" in page


def test_the_stored_report_follows_the_settlement(
    admin: SignedCaller, finance: SignedCaller, small_period: date
) -> None:
    # Given a settled day whose reports finance has read, and its bucket
    settlement_id = created(run(admin, small_period))["settlement_id"]
    bucket = get_settlement_settings().reports_bucket
    s3 = boto3.client("s3")
    first = report(finance, settlement_id, "json")
    key = f"settlements/{settlement_id}/v1/report.json"
    # When finance reads it again, then approves the settlement
    report(finance, settlement_id, "json")
    created(finance.call("POST", f"/v1/settlements/{settlement_id}/approve"))
    # Then the bucket kept one copy of the version's report, and the approved version's own
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 1
    assert json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == first
    approved = json.loads(
        s3.get_object(Bucket=bucket, Key=f"settlements/{settlement_id}/v2/report.json")[
            "Body"
        ].read()
    )
    assert approved["status"] == "approved" and approved["partners"] == first["partners"]
    lines = s3.get_object(Bucket=bucket, Key=f"settlements/{settlement_id}/v2/lines.csv")
    assert csv_rows(lines["Body"].read().decode())[0]["row"] == "obligation"


@pytest.mark.parametrize("report_format", ["csv", "json", "html"])
def test_a_report_of_an_unknown_settlement_is_not_found(
    finance: SignedCaller, report_format: str
) -> None:
    # Given no settlement of 1 January 2020
    # When finance asks for its report, or its line detail
    reply = finance.get("/v1/settlements/stl_20200101_20200101/report", format=report_format)
    detail = finance.get(
        "/v1/settlements/stl_20200101_20200101/report", format="csv", detail="lines"
    )
    # Then both are not found
    assert (reply.status, reply.code) == (404, "not_found")
    assert (detail.status, detail.code) == (404, "not_found")


# the HTML report, rendered by a browser

CHECK_NAMES = [name.value for name in CheckName]
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
WINDOW = (1280, 2000)
PROVISIONAL_BACKGROUND = (0xFF, 0xF3, 0xCD)  # .notice in report_html's style
BAR_IN, BAR_OUT = (0x2E, 0x7D, 0x4F), (0xB2, 0x45, 0x2F)
WHITE = (0xFF, 0xFF, 0xFF)


def chromium(page: Path, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on a local page, kept off the (closed) network. `make pytest` installs
    Chromium where it is missing: a report no browser rendered is not a passed test."""
    if CHROMIUM is None:
        pytest.fail("headless Chromium is not installed: `make browser` installs it")
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *arguments,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class RenderedPage(HTMLParser):
    """What a reader sees of a page: the chart's labels and the tables' rows."""

    def __init__(self) -> None:
        super().__init__()
        self.chart_labels: list[str] = []
        self.rows: list[list[str]] = []
        self._open: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th", "text"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "text" and "svg" in self._open:
            self.chart_labels.append("".join(self._text).strip())
        if tag in ("td", "th") and self.rows:
            self.rows[-1].append(" ".join("".join(self._text).split()))
        while self._open and self._open.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        self._text.append(data)


@dataclass(frozen=True)
class Screenshot:
    width: int
    height: int
    pixels: Counter[tuple[int, int, int]]


def decode_png(data: bytes) -> Screenshot:
    """An 8-bit RGB or RGBA PNG (what Chromium writes) decoded with zlib: each pixel's colour."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, compressed, header = 8, b"", None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            compressed += chunk
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert (depth, interlace) == (8, 0) and colour in (2, 6), header
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(compressed), width * channels
    pixels: Counter[tuple[int, int, int]] = Counter()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for index in range(stride):
            left = line[index - channels] if index >= channels else 0
            up = previous[index]
            corner = previous[index - channels] if index >= channels else 0
            if kind == 1:
                line[index] = (line[index] + left) & 0xFF
            elif kind == 2:
                line[index] = (line[index] + up) & 0xFF
            elif kind == 3:
                line[index] = (line[index] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                nearest = min(
                    (abs(guess - left), 0, left),
                    (abs(guess - up), 1, up),
                    (abs(guess - corner), 2, corner),
                )[2]
                line[index] = (line[index] + nearest) & 0xFF
        pixels.update(
            (line[index], line[index + 1], line[index + 2]) for index in range(0, stride, channels)
        )
        previous = line
    return Screenshot(width, height, pixels)


def test_the_html_report_renders_in_a_browser_with_names_currencies_chart_and_lines(
    admin: SignedCaller, finance: SignedCaller, period: date, tmp_path: Path
) -> None:
    # Given the HTML report of the period's settlement, as finance downloads it
    settlement = created(run(admin, period))
    page = tmp_path / "report.html"
    page.write_text(report(finance, settlement["settlement_id"], "html"), encoding="utf-8")
    # When headless Chromium loads it
    dom = chromium(page, tmp_path / "profile", "--dump-dom").stdout
    rendered = RenderedPage()
    rendered.feed(dom)
    # Then the chart labels every partner by name with its net position and currency
    for label in ("Corner Cafe", "-0.80 USD", "RideCo", "-2.43 USD", "Star Lodge Hotels"):
        assert label in rendered.chart_labels, rendered.chart_labels
    assert "+3.23 USD" in rendered.chart_labels
    # And every line is a row: names beside ids, point value, obligations, amounts in USD
    for line in settlement["lines"]:
        assert [
            f"{NAMES[line['payer']]} ({line['payer']})",
            f"{NAMES[line['payee']]} ({line['payee']})",
            line["program"],
            str(line["points"]),
            ", ".join(f"{price} USD" for price in line["unit_prices"]),
            str(line["obligations"]),
            f"{line['exact_amount']} USD",
            f"{line['amount']} USD",
            line["rounding"],
        ] in rendered.rows, rendered.rows
    # And the cash that moves, with the gross each way it nets
    assert [
        "RideCo (rideco)",
        "Star Lodge Hotels (starlodge)",
        "2.50 USD",
        "0.07 USD",
        "2.43 USD",
    ] in rendered.rows
    assert ["Net cash moving", "", "", "", "3.23 USD"] in rendered.rows
    # And the checks and the audit trail are there for the reviewer, at readable times
    checks = {row[0]: row[1] for row in rendered.rows if row and row[0] in CHECK_NAMES}
    assert checks == dict.fromkeys(CHECK_NAMES, "passed")
    [audit] = [row for row in rendered.rows if row[1:4] == ["run", "", "draft"]]
    assert READABLE_TIME.fullmatch(audit[0]), audit


def test_a_screenshot_of_the_html_report_shows_a_painted_page_with_its_notice_and_chart(
    admin: SignedCaller, finance: SignedCaller, period: date, tmp_path: Path
) -> None:
    # Given the HTML report of today's settlement: provisional, with a net-position chart
    settlement = created(run(admin, period))
    page = tmp_path / "report.html"
    page.write_text(report(finance, settlement["settlement_id"], "html"), encoding="utf-8")
    shot = tmp_path / "report.png"
    # When headless Chromium takes a screenshot of it
    chromium(
        page, tmp_path / "profile", f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}"
    )
    # Then a PNG of the window's size is written
    data = shot.read_bytes()
    assert len(data) > 20_000, len(data)
    screenshot = decode_png(data)
    assert (screenshot.width, screenshot.height) == WINDOW
    # And it is a page, not a blank: many colours, a good share of it not white
    total = screenshot.width * screenshot.height
    assert len(screenshot.pixels) > 100, len(screenshot.pixels)
    assert screenshot.pixels[WHITE] < total * 0.97
    # And the provisional notice and the chart's bars (both ways) are painted
    assert screenshot.pixels[PROVISIONAL_BACKGROUND] > 20_000
    assert screenshot.pixels[BAR_IN] > 500 and screenshot.pixels[BAR_OUT] > 500
