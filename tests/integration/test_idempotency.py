"""Idempotency: replays, reuse, and a retry after the first response was lost."""

from __future__ import annotations

from typing import Any

from pointsnet.api.partner import create_partner_app
from pointsnet.errors import StoreUnavailable
from pointsnet.ledger.check import check_ledger
from pointsnet.ledger.port import LedgerWrite, StoredEntry
from pointsnet.ledger.service import Ledger
from pointsnet.network.cross_partner import CrossPartnerLedger
from pointsnet.settings import get_settings
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.wiring import default_key_resolver, default_network_store, default_pricing
from tests.helpers import DemoNetwork, LambdaContextStub, SignedCaller


def entries_for(member_account: str) -> list[StoredEntry]:
    store = LedgerStore(get_settings().ledger_table)
    return [
        item
        for item in store.scan()
        if isinstance(item, StoredEntry) and item.account == member_account
    ]


def test_a_replay_returns_the_first_response_and_posts_nothing(starlodge: SignedCaller) -> None:
    # Given an earn made with key K, and then other activity on the member
    first = starlodge.earn("guest-1", 100, idempotency_key="K-1")
    starlodge.earn("guest-1", 5)
    # When the same request is sent again with K
    again = starlodge.earn("guest-1", 100, idempotency_key="K-1")
    # Then the first response comes back, marked as a replay, and nothing more is posted
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert starlodge.get("/v1/members/guest-1").body["balance"]["available"] == 105


def test_a_replay_matches_the_same_json_written_differently(starlodge: SignedCaller) -> None:
    # Given an earn sent as compact JSON
    first = starlodge.call(
        "POST",
        "/v1/members/guest-1/earn",
        raw_body=b'{"points":7,"reference":"a"}',
        idempotency_key="K-2",
    )
    # When it is retried with the keys in another order and other spacing
    again = starlodge.call(
        "POST",
        "/v1/members/guest-1/earn",
        raw_body=b'{ "reference": "a", "points": 7 }',
        idempotency_key="K-2",
    )
    # Then it is the same request: a replay
    assert again.status == 201
    assert again.body == first.body


def test_reusing_a_key_for_another_body_is_refused(starlodge: SignedCaller) -> None:
    # Given an earn of 100 with key K
    starlodge.earn("guest-1", 100, idempotency_key="K-3")
    # When K is sent with 200, or for a burn, or for another member
    replies = [
        starlodge.earn("guest-1", 200, idempotency_key="K-3"),
        starlodge.burn("guest-1", 100, idempotency_key="K-3"),
        starlodge.earn("guest-2", 100, idempotency_key="K-3"),
    ]
    # Then each is 422 idempotency_key_reused and nothing is posted
    assert [(reply.status, reply.code) for reply in replies] == [
        (422, "idempotency_key_reused")
    ] * 3
    assert starlodge.get("/v1/members/guest-1").body["balance"]["available"] == 100
    assert starlodge.get("/v1/members/guest-2").status == 404


def test_keys_are_scoped_to_the_partner(starlodge: SignedCaller, rideco: SignedCaller) -> None:
    # Given starlodge used key K; When rideco uses K too; Then rideco's request posts on its own
    starlodge.earn("guest-1", 10, idempotency_key="shared-key")
    reply = rideco.earn("rider-1", 20, idempotency_key="shared-key")
    assert reply.status == 201
    assert "Idempotent-Replayed" not in reply.headers


def test_a_replay_of_a_burn_holds_even_when_the_balance_no_longer_covers_it(
    starlodge: SignedCaller,
) -> None:
    # Given a burn of 60 out of 100 with key K, and 40 more burned since
    starlodge.earn("guest-1", 100)
    first = starlodge.burn("guest-1", 60, idempotency_key="K-4")
    starlodge.burn("guest-1", 40)
    # When K is retried; Then the retry replays the first response rather than failing
    again = starlodge.burn("guest-1", 60, idempotency_key="K-4")
    assert (again.status, again.body) == (201, first.body)


def test_a_post_without_an_idempotency_key_is_refused(starlodge: SignedCaller) -> None:
    # Given a new member; When starlodge earns them 10 points with no Idempotency-Key
    reply = starlodge.earn("guest-1", 10, idempotency_key=None)
    # Then it is refused for the missing key, and the member was never created
    assert (reply.status, reply.code) == (400, "missing_idempotency_key")
    assert starlodge.get("/v1/members/guest-1").status == 404


def over(ledger: Ledger) -> CrossPartnerLedger:
    """The network's view of `ledger`, as the default wiring connects it."""
    return CrossPartnerLedger(ledger, default_network_store(), default_pricing())


class LosesResponseAfterCommit(LedgerStore):
    """A store whose write succeeds and whose caller then never hears back."""

    def commit(self, write: LedgerWrite) -> None:
        super().commit(write)
        raise StoreUnavailable("connection reset after the write")


def test_a_retry_after_a_lost_response_posts_exactly_once(network: DemoNetwork) -> None:
    # Given a partner function whose store loses the response right after a successful write
    table = get_settings().ledger_table
    losing = create_partner_app(
        ledger=lambda: over(Ledger(LosesResponseAfterCommit(table))), keys=default_key_resolver
    )
    healthy = create_partner_app(
        ledger=lambda: over(Ledger(LedgerStore(table))), keys=default_key_resolver
    )

    def through(app: Any) -> SignedCaller:
        return SignedCaller(
            lambda event, _: app.resolve(event, LambdaContextStub()), network.starlodge
        )

    # When an earn is sent and its response is lost
    lost = through(losing).earn("guest-1", 100, idempotency_key="crash-1")
    assert (lost.status, lost.code) == (500, "internal_error")
    assert "Traceback" not in str(lost.body)
    # And the partner retries with the same key (even through the same failing path first)
    through(losing).earn("guest-1", 100, idempotency_key="crash-1")
    retry = through(healthy).earn("guest-1", 100, idempotency_key="crash-1")
    # Then the retry answers as the first success would have, and exactly one posting exists
    assert retry.status == 201
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.body["balance"]["available"] == 100
    assert len(entries_for("member:starlodge:guest-1")) == 1
    assert check_ledger(LedgerStore(table).scan()).ok
