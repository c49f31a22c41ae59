"""Batch earns: up to 100 earns in one request through the partner function, each once."""

from __future__ import annotations

from typing import Any

from tests.helpers import SignedCaller
from tests.integration.test_imports import ledger_ok


def batch(starlodge: SignedCaller, earns: list[dict[str, Any]], key: str) -> Any:
    return starlodge.call("POST", "/v1/earn-batches", {"earns": earns}, idempotency_key=key)


def test_a_batch_answers_each_earn_posted_replayed_or_refused(
    starlodge: SignedCaller, rideco: SignedCaller
) -> None:
    # Given a first batch of two earns that posted
    first = batch(
        starlodge,
        [
            {"member_id": "guest-1", "points": 100, "reference": "stay-1"},
            {"member_id": "guest-2", "points": 40, "reference": "stay-2"},
        ],
        key="night-1",
    )
    assert first.status == 201, first.body
    assert [item["status"] for item in first.body["items"]] == ["posted", "posted"]

    # When a second batch sends one of them again, a new earn, an earn for a program the
    # member has no link to, and an earn with no points
    second = batch(
        starlodge,
        [
            {"member_id": "guest-2", "points": 40, "reference": "stay-2"},
            {"member_id": "guest-1", "points": 25, "reference": "stay-3"},
            {"member_id": "guest-1", "points": 5, "reference": "ride-1", "program": "RIDE"},
            {"member_id": "guest-3", "amount": "12.00", "reference": "stay-4"},
        ],
        key="night-2",
    )

    # Then each earn has its own answer, in order, and only the new one posted
    assert second.status == 201, second.body
    items = second.body["items"]
    assert [item["status"] for item in items] == ["replayed", "posted", "refused", "refused"]
    assert items[0]["transaction"] == first.body["items"][1]["transaction"]
    assert items[1]["balance"]["available"] == 125
    assert items[2]["error"]["code"] == "not_linked"
    assert items[3]["error"]["code"] == "validation_error"
    assert (second.body["posted"], second.body["replayed"], second.body["refused"]) == (1, 1, 2)
    assert starlodge.get("/v1/members/guest-2").body["balance"]["available"] == 40
    assert ledger_ok()


def test_the_same_batch_again_replays_its_first_answer_and_posts_nothing(
    starlodge: SignedCaller,
) -> None:
    # Given a batch with one earn posted and one refused
    earns = [
        {"member_id": "guest-1", "points": 10, "reference": "stay-1"},
        {"member_id": "guest-1", "action": "review", "reference": "review-1"},
    ]
    first = batch(starlodge, earns, key="batch-1")
    assert [item["status"] for item in first.body["items"]] == ["posted", "refused"]

    # When the same request is sent again, and the same key with another body
    again = batch(starlodge, earns, key="batch-1")
    reused = batch(starlodge, earns[:1], key="batch-1")

    # Then the first answer comes back as it was, and the other body is refused
    assert again.status == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.body == first.body
    assert (reused.status, reused.code) == (422, "idempotency_key_reused")
    history = starlodge.get("/v1/members/guest-1/transactions").body["items"]
    assert len(history) == 1


def test_an_earn_sent_again_with_other_points_is_refused_on_its_own(
    starlodge: SignedCaller,
) -> None:
    # Given an earn posted by a batch
    batch(starlodge, [{"member_id": "guest-1", "points": 10, "reference": "stay-1"}], key="a")
    # When a later batch sends its reference with other points, beside a good earn
    later = batch(
        starlodge,
        [
            {"member_id": "guest-1", "points": 99, "reference": "stay-1"},
            {"member_id": "guest-1", "points": 1, "reference": "stay-2"},
        ],
        key="b",
    )
    # Then that earn alone is refused as a reused key
    assert [item["status"] for item in later.body["items"]] == ["refused", "posted"]
    assert later.body["items"][0]["error"]["code"] == "idempotency_key_reused"
    assert starlodge.get("/v1/members/guest-1").body["balance"]["available"] == 11


def test_a_malformed_batch_is_refused_whole(starlodge: SignedCaller) -> None:
    # Given members with no points yet
    # When a batch repeats a reference, is empty, or has 101 earns
    twice = batch(
        starlodge,
        [
            {"member_id": "guest-1", "points": 1, "reference": "r"},
            {"member_id": "guest-2", "points": 1, "reference": "r"},
        ],
        key="twice",
    )
    empty = batch(starlodge, [], key="empty")
    many = batch(
        starlodge,
        [{"member_id": "g", "points": 1, "reference": f"r{n}"} for n in range(101)],
        key="many",
    )
    # Then each is a validation error, and nothing posted
    assert (twice.status, twice.code) == (422, "validation_error")
    assert (empty.status, empty.code) == (422, "validation_error")
    assert (many.status, many.code) == (422, "validation_error")
    assert many.body["error"]["details"][0]["field"] == "body.earns"
    for member_id in ("guest-1", "guest-2", "g"):
        assert starlodge.get(f"/v1/members/{member_id}").status == 404
