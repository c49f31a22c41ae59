"""Holds: pending points captured (all or part) or voided once, and voided when forgotten."""

from __future__ import annotations

from typing import Any

from pointsnet.store.network_store import NetworkStore
from tests.points_life import (
    DIRECTORY_TABLE,
    LEDGER_TABLE,
    Life,
    ledger_check,
    life,
    set_policy,
)

__all__ = ["life"]


def hold(life: Life, member_id: str, points: int, reference: str = "stay-1") -> dict[str, Any]:
    reply = life.starlodge.earn(member_id, points, reference, pending=True)
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.body
    return body


def capture(life: Life, hold_id: str, **body: Any) -> Any:
    return life.starlodge.call("POST", f"/v1/transactions/{hold_id}/capture", body)


def void(life: Life, hold_id: str, **body: Any) -> Any:
    return life.starlodge.call("POST", f"/v1/transactions/{hold_id}/void", body)


def test_a_hold_is_pending_and_not_spendable(life: Life) -> None:
    # Given a stay booked for 300 points, held until checkout
    # When starlodge earns them as pending: a hold
    placed = hold(life, "guest-1", 300)
    # Then the hold is a pending transaction that says when it will be voided
    assert placed["transaction"]["type"] == "hold"
    assert placed["transaction"]["status"] == "pending"
    assert placed["transaction"]["expires_at"] == "2025-02-09T10:00:00.000000Z"
    assert placed["balance"] == {"program": "STAR", "available": 0, "pending": 300}
    # And the points are not spendable
    refused = life.starlodge.burn("guest-1", 1)
    assert (refused.status, refused.code) == (409, "insufficient_points")
    assert ledger_check().ok


def test_a_hold_captured_in_part_releases_the_rest_in_the_same_transaction(life: Life) -> None:
    # Given a hold of 300 points
    held = hold(life, "guest-1", 300)["transaction"]
    # When the partner captures 200 (the guest checked out a night early)
    life.clock.day(2)
    reply = capture(life, held["transaction_id"], points=200)
    # Then 200 are available, nothing is pending, and the 100 went back to the program
    assert reply.status == 201, reply.body
    captured = reply.body["transaction"]
    assert (captured["type"], captured["points"], captured["hold_id"]) == (
        "capture",
        200,
        held["transaction_id"],
    )
    assert reply.body["balance"] == {"program": "STAR", "available": 200, "pending": 0}
    assert {(p["account"], p["points"]) for p in captured["postings"]} == {
        ("pending:starlodge:guest-1", -300),
        ("member:starlodge:guest-1", 200),
        ("program:STAR:issued", 100),
    }
    # And the hold shows what became of it
    detail = life.starlodge.get(f"/v1/transactions/{held['transaction_id']}").body
    assert detail["status"] == "pending"
    assert detail["hold"]["status"] == "captured"
    assert detail["hold"]["points_captured"] == 200
    assert detail["hold"]["resolved_by"] == captured["transaction_id"]
    assert ledger_check().ok


def test_a_hold_resolves_once(life: Life) -> None:
    # Given a hold that was captured
    held = hold(life, "guest-1", 300)["transaction"]
    first = capture(life, held["transaction_id"], points=100)
    assert first.status == 201
    # When it is captured again, or voided, under new Idempotency-Keys
    again = capture(life, held["transaction_id"])
    voided = void(life, held["transaction_id"])
    # Then both are refused and nothing moves
    assert (again.status, again.code) == (409, "conflict")
    assert (voided.status, voided.code) == (409, "conflict")
    assert life.member(life.starlodge, "guest-1")["balance"] == {
        "program": "STAR",
        "available": 100,
        "pending": 0,
    }
    assert ledger_check().ok


def test_a_capture_retried_with_its_key_replays(life: Life) -> None:
    # Given a hold of 50 points, captured with Idempotency-Key checkout-1
    held = hold(life, "guest-1", 50)["transaction"]
    path = f"/v1/transactions/{held['transaction_id']}/capture"
    first = life.starlodge.call("POST", path, {}, idempotency_key="checkout-1")
    # When the capture is retried with the same key
    second = life.starlodge.call("POST", path, {}, idempotency_key="checkout-1")
    # Then the retry replays the first answer, and the 50 points are available once
    assert (first.status, second.status) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.body == first.body
    assert life.available(life.starlodge, "guest-1") == 50


def test_capturing_more_than_held_is_refused(life: Life) -> None:
    # Given a hold of 50 points
    held = hold(life, "guest-1", 50)["transaction"]
    # When starlodge captures 51 of them
    reply = capture(life, held["transaction_id"], points=51)
    # Then it is a conflict and the 50 points stay pending
    assert (reply.status, reply.code) == (409, "conflict")
    assert life.member(life.starlodge, "guest-1")["balance"]["pending"] == 50


def test_a_void_releases_every_point(life: Life) -> None:
    # Given a hold of 80 points
    held = hold(life, "guest-1", 80)["transaction"]
    # When starlodge voids it for a cancelled booking
    reply = void(life, held["transaction_id"], reason="cancelled booking")
    # Then a void is posted, nothing is pending or available, and the ledger checks out
    assert reply.status == 201, reply.body
    assert reply.body["transaction"]["type"] == "void"
    assert reply.body["balance"] == {"program": "STAR", "available": 0, "pending": 0}
    assert ledger_check().ok


def test_only_holds_are_captured_and_only_by_their_partner(life: Life) -> None:
    # Given an earn of 10 points, not a hold
    # When starlodge captures it
    earned = life.starlodge.earn("guest-1", 10).body["transaction"]
    not_a_hold = capture(life, earned["transaction_id"])
    # And given a hold of 10 points by starlodge, when rideco captures it
    held = hold(life, "guest-1", 10)["transaction"]
    someone_else = life.rideco.call("POST", f"/v1/transactions/{held['transaction_id']}/capture")
    # Then capturing the earn is a conflict, and rideco does not find starlodge's hold
    assert (not_a_hold.status, not_a_hold.code) == (409, "conflict")
    assert (someone_else.status, someone_else.code) == (404, "not_found")


def test_the_timeout_voids_a_forgotten_hold(life: Life) -> None:
    # Given a program whose holds time out after 3 days, and a hold nobody captures
    set_policy("starlodge", hold_timeout_days=3)
    forgotten = hold(life, "guest-1", 120)["transaction"]
    kept = hold(life, "guest-2", 40)["transaction"]
    capture(life, kept["transaction_id"])
    # When the sweep runs before the timeout, nothing happens
    assert life.sweep("holds", at=life.clock.day(2))["holds_voided"] == 0
    # Then after it, the forgotten hold is voided by the network, once
    report = life.sweep("holds", at=life.clock.day(3, hour=11))
    again = life.sweep("holds", at=life.clock.day(4))
    assert (report["holds_voided"], again["holds_voided"]) == (1, 0)
    detail = life.starlodge.get(f"/v1/transactions/{forgotten['transaction_id']}").body
    assert detail["hold"]["status"] == "voided"
    assert life.member(life.starlodge, "guest-1")["balance"]["pending"] == 0
    # And a capture after the timeout is refused
    late = capture(life, forgotten["transaction_id"])
    assert (late.status, late.code) == (409, "conflict")
    history = life.starlodge.get("/v1/members/guest-1/transactions").body["items"]
    assert [item["type"] for item in history] == ["void", "hold"]
    assert history[0]["initiated_by"] == "network"
    assert ledger_check().ok


def test_a_cross_partner_hold_owes_only_what_is_captured(life: Life) -> None:
    # Given rideco's rider-1 linked to starlodge's guest-1
    proposal = life.rideco.call(
        "POST",
        "/v1/links",
        {"member_id": "rider-1", "partner_program": "STAR", "partner_member_id": "guest-1"},
    ).body
    life.starlodge.call("POST", f"/v1/links/{proposal['link_id']}/confirm")
    # When rideco holds 250 STAR for a ride, then captures 150 of them
    held = life.rideco.earn("rider-1", 250, "ride-1", program="STAR", pending=True)
    assert held.status == 201, held.body
    network = NetworkStore(LEDGER_TABLE, DIRECTORY_TABLE)
    assert list(network.obligations_on(life.clock().date())) == []
    hold_id = held.body["transaction"]["transaction_id"]
    captured = life.rideco.call("POST", f"/v1/transactions/{hold_id}/capture", {"points": 150})
    # Then the guest has 150 STAR, and rideco owes starlodge for those 150 only
    assert captured.status == 201, captured.body
    assert life.available(life.starlodge, "guest-1") == 150
    [owed] = network.obligations_on(life.clock().date())
    assert (owed.kind, owed.terms.payer, owed.terms.payee, owed.terms.points) == (
        "cross_partner_earn",
        "rideco",
        "starlodge",
        150,
    )
    assert owed.transaction_id == captured.body["transaction"]["transaction_id"]
    assert ledger_check().ok
