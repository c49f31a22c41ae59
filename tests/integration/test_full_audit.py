"""The weekly full audit: the whole ledger table against its own entries and the journal."""

from __future__ import annotations

import json
from typing import Any

import boto3

from pointsnet.local.template import functions, load_handler
from pointsnet.settlement.audit import AuditReport
from pointsnet.wiring import default_audit, default_report_bucket
from tests.helpers import STACK, TEMPLATE, LambdaContextStub, catch_up_journal
from tests.points_life import LEDGER_TABLE, Life, life

__all__ = ["life"]


def audit() -> AuditReport:
    catch_up_journal()
    return default_audit().run()


def findings(report: AuditReport) -> list[tuple[str, str]]:
    return [(item.check, item.finding.id) for item in report.findings]


def three_earns(life: Life) -> list[str]:
    return [
        str(life.starlodge.earn(member, points, reference).body["transaction"]["transaction_id"])
        for member, points, reference in (("guest-1", 10, "a"), ("guest-2", 20, "b"))
    ] + [str(life.rideco.earn("rider-1", 5, "c").body["transaction"]["transaction_id"])]


def test_a_sound_ledger_and_journal_pass_the_audit(life: Life) -> None:
    # Given three earns, journaled
    three_earns(life)
    # When the whole table is audited against the journal
    report = audit()
    # Then everything agrees
    assert (report.ok, report.entries, report.accounts, report.offending) == (True, 3, 3, 0)


def test_an_entry_missing_from_the_journal_is_found(life: Life) -> None:
    # Given two earns journaled, then a third the journal never received
    life.starlodge.earn("guest-1", 10, "a")
    catch_up_journal()
    life.starlodge.earn("guest-1", 20, "b")
    # When the audit runs before the journal has the third
    report = default_audit().run()
    # Then the day and shard where table and journal differ is named
    assert not report.ok
    [(check, where)] = findings(report)
    assert check == "table_matches_journal" and where.startswith("2025-01-10/")
    assert "the table holds 2 entries" in report.findings[0].finding.message


def test_an_entry_deleted_from_the_table_and_a_negative_balance_are_found(life: Life) -> None:
    # Given journaled earns, then an entry deleted from the table and a negative balance written
    deleted = three_earns(life)[0]
    client = boto3.client("dynamodb")
    client.delete_item(
        TableName=LEDGER_TABLE, Key={"pk": {"S": f"TXN#{deleted}"}, "sk": {"S": "ENTRY"}}
    )
    client.put_item(
        TableName=LEDGER_TABLE,
        Item={
            "pk": {"S": "ACCT#member:rideco:rider-9"},
            "sk": {"S": "BALANCE"},
            "program": {"S": "RIDE"},
            "available": {"N": "-3"},
            "pending": {"N": "0"},
            "version": {"N": "1"},
        },
    )
    # When the audit runs
    report = audit()
    # Then the balance without its entry, the negative balance and the journal's extra entry
    # are each named
    found = findings(report)
    assert ("balances_match_entries", "member:starlodge:guest-1") in found
    assert ("no_negative_balances", "member:rideco:rider-9") in found
    assert any(check == "table_matches_journal" for check, _ in found)


def test_the_weekly_schedule_runs_the_audit_and_keeps_its_report(life: Life) -> None:
    # Given a journaled earn, and the template's weekly audit schedule
    three_earns(life)
    catch_up_journal()
    schedule = TEMPLATE["Resources"]["ReconciliationFunction"]["Properties"]["Events"]
    event: dict[str, Any] = json.loads(schedule["WeeklyAudit"]["Properties"]["Input"])
    # When the reconciliation function receives the schedule's input
    handler = load_handler(functions(TEMPLATE, STACK)["ReconciliationFunction"])
    result = handler(event, LambdaContextStub(function_name="ReconciliationFunction"))
    # Then the audit passed and its report is in the reports bucket
    assert (result["ok"], result["offending"], result["entries"]) == (True, 0, 3)
    stored = default_report_bucket().get(result["report"])
    assert stored is not None and AuditReport.model_validate_json(stored).ok
