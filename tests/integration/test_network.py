"""The network: links, cross-partner earn, quotes and exchanges, and the money they create."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pointsnet.api.partner import create_partner_app
from pointsnet.auth.caller import Caller, Role
from pointsnet.idempotency import derived_id
from pointsnet.ledger.check import check_ledger
from pointsnet.ledger.models import Obligation
from pointsnet.ledger.port import StoredBalance, StoredEntry
from pointsnet.ledger.service import Ledger
from pointsnet.network.commands import SetRate
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.settings import get_settings
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.wiring import (
    default_exchanges,
    default_key_resolver,
    default_ledger,
    default_network_store,
    default_rates,
)
from tests.helpers import DemoNetwork, LambdaContextStub, SignedCaller, partner_directory

OPERATOR = Caller(partner_id="network", key_id="pnk_test", role=Role.ADMIN)


def set_rate(
    from_program: str,
    to_program: str,
    rate: str,
    price: str | None = None,
    effective_from: datetime = datetime(2020, 1, 1, tzinfo=UTC),
) -> None:
    default_rates().set_rate(
        OPERATOR,
        from_program,
        to_program,
        SetRate.model_validate(
            {"rate": rate, "effective_from": effective_from} | ({"price": price} if price else {})
        ),
    )


def obligations() -> list[Obligation]:
    today = datetime.now(UTC).date()
    store = default_network_store()
    return [*store.obligations_on(today - timedelta(days=1)), *store.obligations_on(today)]


def ledger_ok() -> bool:
    return check_ledger(LedgerStore(get_settings().ledger_table).scan()).ok


def entries() -> list[StoredEntry]:
    return [
        item
        for item in LedgerStore(get_settings().ledger_table).scan()
        if isinstance(item, StoredEntry)
    ]


def balance(caller: SignedCaller, member_id: str) -> int:
    reply = caller.get(f"/v1/members/{member_id}")
    return int(reply.body["balance"]["available"]) if reply.status == 200 else 0


def link(proposer: SignedCaller, member_id: str, program: str, other_member: str) -> Any:
    return proposer.call(
        "POST",
        "/v1/links",
        {"member_id": member_id, "partner_program": program, "partner_member_id": other_member},
    )


@pytest.fixture
def linked(starlodge: SignedCaller, rideco: SignedCaller) -> str:
    """Given rideco's rider-1 linked (both sides consenting) to starlodge's guest-1."""
    proposal = link(rideco, "rider-1", "STAR", "guest-1")
    assert proposal.status == 201, proposal.body
    confirmed = starlodge.call("POST", f"/v1/links/{proposal.body['link_id']}/confirm")
    assert confirmed.status == 201, confirmed.body
    return str(proposal.body["link_id"])


@pytest.fixture
def rates(network: DemoNetwork) -> None:
    """Given published rates: 1 STAR buys 0.25 RIDE, 1 RIDE buys 4 STAR."""
    set_rate("STAR", "RIDE", "0.25")
    set_rate("RIDE", "STAR", "4")


# links


def test_a_link_needs_the_other_partners_consent(
    starlodge: SignedCaller, rideco: SignedCaller
) -> None:
    # Given rideco proposes linking its rider-1 to starlodge's guest-1
    proposal = link(rideco, "rider-1", "STAR", "guest-1")
    assert proposal.status == 201
    assert proposal.body["status"] == "pending"
    link_id = proposal.body["link_id"]
    # When rideco tries to confirm its own proposal; Then it is forbidden
    own = rideco.call("POST", f"/v1/links/{link_id}/confirm")
    assert (own.status, own.code) == (403, "forbidden")
    # When starlodge confirms; Then the link is active, since when, and both members show it
    confirmed = starlodge.call("POST", f"/v1/links/{link_id}/confirm")
    assert (confirmed.status, confirmed.body["status"]) == (201, "active")
    rideco.earn("rider-1", 1)
    starlodge.earn("guest-1", 1)
    rider_links = rideco.get("/v1/members/rider-1").body["links"]
    guest_links = starlodge.get("/v1/members/guest-1").body["links"]
    # And each member's links say when the link was confirmed, as the link itself does
    confirmed_at = confirmed.body["confirmed_at"]
    assert confirmed_at and rideco.get(f"/v1/links/{link_id}").body["confirmed_at"] == confirmed_at
    assert rider_links == [
        {
            "link_id": link_id,
            "partner_id": "starlodge",
            "program": "STAR",
            "member_id": "guest-1",
            "confirmed_at": confirmed_at,
        }
    ]
    assert guest_links == [
        {
            "link_id": link_id,
            "partner_id": "rideco",
            "program": "RIDE",
            "member_id": "rider-1",
            "confirmed_at": confirmed_at,
        }
    ]


def test_either_side_revokes_and_then_the_link_is_gone(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str
) -> None:
    # Given rider-1 linked to guest-1 (the fixture)
    # When starlodge revokes the link
    revoked = starlodge.call("DELETE", f"/v1/links/{linked}")
    # Then it is revoked, as rideco sees it too
    assert (revoked.status, revoked.body["status"]) == (200, "revoked")
    assert rideco.get(f"/v1/links/{linked}").body["status"] == "revoked"
    # And a revoked link cannot be confirmed again, nor used
    again = starlodge.call("POST", f"/v1/links/{linked}/confirm")
    assert (again.status, again.code) == (409, "conflict")
    earn = rideco.earn("rider-1", 10, program="STAR")
    assert (earn.status, earn.code) == (422, "not_linked")


def test_a_member_has_one_active_link_per_other_program(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str
) -> None:
    # Given rider-1 is linked to guest-1 at STAR; When another STAR link is proposed for rider-1
    second = link(rideco, "rider-1", "STAR", "guest-2")
    # Then it is a conflict
    assert (second.status, second.code) == (409, "conflict")


def test_two_pending_proposals_cannot_both_become_active(
    starlodge: SignedCaller, rideco: SignedCaller
) -> None:
    # Given rideco's two proposals to link rider-1, to guest-1 and to guest-2
    first = link(rideco, "rider-1", "STAR", "guest-1").body["link_id"]
    second = link(rideco, "rider-1", "STAR", "guest-2").body["link_id"]
    # When starlodge confirms the first, then the second
    assert starlodge.call("POST", f"/v1/links/{first}/confirm").status == 201
    reply = starlodge.call("POST", f"/v1/links/{second}/confirm")
    # Then the second is a conflict and stays pending: a member has one active link
    assert (reply.status, reply.code) == (409, "conflict")
    assert rideco.get(f"/v1/links/{second}").body["status"] == "pending"


def test_a_pending_link_lapses(
    network: DemoNetwork, starlodge: SignedCaller, rideco: SignedCaller
) -> None:
    # Given a proposal; When the other partner confirms after the pending time is over
    link_id = link(rideco, "rider-1", "STAR", "guest-1").body["link_id"]
    later = datetime.now(UTC) + timedelta(seconds=get_settings().link_pending_seconds + 1)
    app = create_partner_app(
        links=lambda: Links(
            default_network_store(), pending_for=timedelta(days=7), clock=lambda: later
        ),
        keys=default_key_resolver,
    )
    late = SignedCaller(lambda event, _: app.resolve(event, LambdaContextStub()), network.starlodge)
    reply = late.call("POST", f"/v1/links/{link_id}/confirm")
    # Then it is a conflict, and the link reads as expired
    assert (reply.status, reply.code) == (409, "conflict")
    assert late.get(f"/v1/links/{link_id}").body["status"] == "expired"


def test_a_partner_never_sees_links_it_is_not_part_of(
    network: DemoNetwork,
    partner_handler,
    rideco: SignedCaller,
    linked: str,  # type: ignore[no-untyped-def]
) -> None:
    # Given a third partner
    directory = partner_directory()
    directory.create_partner("cafe", "Corner Cafe", "CAFE", Decimal("0.001"))
    cafe = SignedCaller(partner_handler, directory.issue_key("cafe"))
    # When it reads, confirms or revokes the rideco-starlodge link; Then it does not exist for it
    replies = [
        cafe.get(f"/v1/links/{linked}"),
        cafe.call("POST", f"/v1/links/{linked}/confirm"),
        cafe.call("DELETE", f"/v1/links/{linked}"),
    ]
    assert [(reply.status, reply.code) for reply in replies] == [(404, "not_found")] * 3


def test_a_link_proposal_is_idempotent(rideco: SignedCaller) -> None:
    # Given rideco's proposal to link rider-1 to guest-1, with Idempotency-Key L-1
    body = {"member_id": "rider-1", "partner_program": "STAR", "partner_member_id": "guest-1"}
    first = rideco.call("POST", "/v1/links", body, idempotency_key="L-1")
    # When it is sent again with that key, and another proposal is sent with it
    again = rideco.call("POST", "/v1/links", body, idempotency_key="L-1")
    other = rideco.call(
        "POST", "/v1/links", body | {"partner_member_id": "guest-9"}, idempotency_key="L-1"
    )
    # Then the same proposal is replayed, and the other is refused as a reused key
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (other.status, other.code) == (422, "idempotency_key_reused")


def test_a_confirmations_key_confirms_one_link_only(
    starlodge: SignedCaller, rideco: SignedCaller
) -> None:
    # Given two proposals to starlodge, and starlodge confirming the first under key C-1
    first = link(rideco, "rider-1", "STAR", "guest-1").body["link_id"]
    second = link(rideco, "rider-2", "STAR", "guest-2").body["link_id"]
    confirmed = starlodge.call("POST", f"/v1/links/{first}/confirm", {}, idempotency_key="C-1")
    assert confirmed.status == 201, confirmed.body
    # When C-1 is sent again to confirm the second
    reused = starlodge.call("POST", f"/v1/links/{second}/confirm", {}, idempotency_key="C-1")
    # Then it is a reused key, and the second link stays pending
    assert (reused.status, reused.code) == (422, "idempotency_key_reused"), reused.body
    assert starlodge.get(f"/v1/links/{second}").body["status"] == "pending"
    # And C-1 on the first still replays its confirmation
    again = starlodge.call("POST", f"/v1/links/{first}/confirm", {}, idempotency_key="C-1")
    assert (again.status, again.body) == (201, confirmed.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    # And a fresh key confirms the second
    fresh = starlodge.call("POST", f"/v1/links/{second}/confirm", {})
    assert (fresh.status, fresh.body["status"]) == (201, "active")


def test_linking_to_an_unknown_program_is_not_found(rideco: SignedCaller) -> None:
    # A well-formed code that names no program: validation_error is for what the document refuses
    # Given no program NOPE; When rideco proposes a link of rider-1 to a NOPE member
    reply = link(rideco, "rider-1", "NOPE", "x")
    # Then the program is not found
    assert (reply.status, reply.code) == (404, "not_found")


# cross-partner earn


def test_a_ride_earns_hotel_points_and_rideco_owes_starlodge(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str
) -> None:
    # Given rider-1 linked to guest-1 (the fixture)
    # When rideco earns 400 STAR for its rider-1
    reply = rideco.earn("rider-1", 400, "ride-1", program="STAR")
    # Then starlodge's guest-1 holds 400 STAR
    assert reply.status == 201, reply.body
    transaction = reply.body["transaction"]
    assert (transaction["program"], transaction["partner_id"], transaction["member_id"]) == (
        "STAR",
        "starlodge",
        "guest-1",
    )
    assert transaction["initiated_by"] == "rideco"
    assert reply.body["balance"]["available"] == 400
    assert balance(starlodge, "guest-1") == 400
    # And both partners see the transaction; it is in the guest's history at starlodge
    assert starlodge.get(f"/v1/transactions/{transaction['transaction_id']}").status == 200
    assert rideco.get(f"/v1/transactions/{transaction['transaction_id']}").status == 200
    history = starlodge.get("/v1/members/guest-1/transactions").body["items"]
    assert [item["reference"] for item in history] == ["ride-1"]
    # And rideco owes starlodge 400 x 0.0025 = 1.0000 USD
    [owed] = obligations()
    assert (owed.terms.payer, owed.terms.payee, owed.terms.program) == (
        "rideco",
        "starlodge",
        "STAR",
    )
    assert (owed.terms.points, owed.terms.amount) == (400, Decimal("1.0000"))
    assert owed.transaction_id == transaction["transaction_id"]
    assert ledger_ok()


def test_reversing_a_cross_partner_earn_reverses_the_obligation(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str
) -> None:
    # Given rider-1 linked to guest-1, and 400 STAR earned at rideco for it
    earn = rideco.earn("rider-1", 400, "ride-1", program="STAR").body["transaction"]
    # When starlodge (not the earner) tries to reverse it; Then it may not
    assert starlodge.reverse(earn["transaction_id"]).code == "conflict"
    # When rideco reverses 100 of it
    reversal = rideco.reverse(earn["transaction_id"], points=100)
    assert reversal.status == 201, reversal.body
    # Then the guest has 300 and rideco owes for 300 in all
    assert balance(starlodge, "guest-1") == 300
    owed = obligations()
    assert sorted(item.terms.points for item in owed) == [-100, 400]
    assert sum(item.terms.amount for item in owed) == Decimal("0.75")
    assert ledger_ok()


@pytest.mark.parametrize("pending", [False, True], ids=["earn", "hold"])
def test_a_cross_partner_earn_replays_after_its_link_is_revoked(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, pending: bool
) -> None:
    # Given rideco's earn (or hold) for its rider posted, but its answer was lost
    first = rideco.earn(
        "rider-1", 400, "ride-1", program="STAR", pending=pending, idempotency_key="K"
    )
    assert first.status == 201, first.body
    # When the link is revoked and rideco retries with the same key
    assert starlodge.call("DELETE", f"/v1/links/{linked}").status == 200
    again = rideco.earn(
        "rider-1", 400, "ride-1", program="STAR", pending=pending, idempotency_key="K"
    )
    # Then it gets the first answer, replayed, and nothing posts again
    assert (again.status, again.headers.get("Idempotent-Replayed")) == (201, "true"), again.body
    assert again.body == first.body
    assert len(entries()) == 1
    assert len(obligations()) == (0 if pending else 1)
    # And a new key is refused: the link is gone
    fresh = rideco.earn("rider-1", 400, "ride-2", program="STAR", pending=pending)
    assert (fresh.status, fresh.code) == (422, "not_linked")
    assert ledger_ok()


def test_an_unlinked_cross_partner_earn_is_not_linked(rideco: SignedCaller) -> None:
    # Given rider-1 with no link; When rideco earns it 10 STAR
    reply = rideco.earn("rider-1", 10, program="STAR")
    # Then it is refused as not linked, and nothing is owed
    assert (reply.status, reply.code) == (422, "not_linked")
    assert obligations() == []


# quotes and exchanges


def quote(
    caller: SignedCaller, member_id: str, from_program: str, to_program: str, points: int
) -> Any:
    return caller.call(
        "POST",
        "/v1/quotes",
        {
            "member_id": member_id,
            "from_program": from_program,
            "to_program": to_program,
            "points": points,
        },
    )


def test_the_published_rate_is_the_latest_in_force(rideco: SignedCaller, rates: None) -> None:
    # Given STAR->RIDE at 0.25 from 2020, 0.5 from 2021, and 9 from 2999
    set_rate("STAR", "RIDE", "0.5", effective_from=datetime(2021, 1, 1, tzinfo=UTC))
    set_rate("STAR", "RIDE", "9", effective_from=datetime(2999, 1, 1, tzinfo=UTC))
    # When a partner asks for the rate; Then it is 2021's, with its start
    reply = rideco.get("/v1/rates", **{"from": "STAR", "to": "RIDE"})
    assert reply.status == 200, reply.body
    assert (reply.body["from"], reply.body["to"], reply.body["rate"]) == ("STAR", "RIDE", "0.5")
    assert reply.body["effective_from"] == "2021-01-01T00:00:00.000000Z"
    missing = rideco.get("/v1/rates", **{"from": "STAR", "to": "CAFE"})
    assert (missing.status, missing.code) == (404, "not_found")


def test_a_guest_converts_hotel_points_into_ride_points(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, rates: None
) -> None:
    # Given guest-1 holds 1000 STAR
    starlodge.earn("guest-1", 1000, "stay-1")
    # When starlodge quotes 30 STAR to RIDE for her
    offer = quote(starlodge, "guest-1", "STAR", "RIDE", 30)
    # Then 30 x 0.25 = 7.5 rounds down to 7 RIDE
    assert offer.status == 201, offer.body
    assert (offer.body["points_out"], offer.body["points_in"], offer.body["rate"]) == (
        30,
        7,
        "0.25",
    )
    # When the exchange executes
    done = starlodge.call("POST", "/v1/exchanges", {"quote_id": offer.body["quote_id"]})
    assert done.status == 201, done.body
    # Then 30 STAR left guest-1 and 7 RIDE reached rider-1, in one exchange
    assert done.body["debit"]["points"] == 30 and done.body["credit"]["points"] == 7
    assert done.body["balances"]["from"]["available"] == 970
    assert done.body["balances"]["to"]["available"] == 7
    assert balance(starlodge, "guest-1") == 970
    assert balance(rideco, "rider-1") == 7
    # And starlodge owes rideco 7 x 0.01 = 0.07 USD
    [owed] = obligations()
    assert (owed.terms.payer, owed.terms.payee, owed.terms.points) == ("starlodge", "rideco", 7)
    assert owed.terms.amount == Decimal("0.07")
    assert ledger_ok()


def test_a_quote_moves_points_at_most_once(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, rates: None
) -> None:
    # Given linked members, published rates, and a quote for 40 of guest-1's 1000 STAR
    starlodge.earn("guest-1", 1000)
    quote_id = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    # When the quote is exchanged, replayed with the same key, and exchanged with another key
    first = starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id}, idempotency_key="X-1")
    replay = starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id}, idempotency_key="X-1")
    again = starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id}, idempotency_key="X-2")
    # Then the first is replayed, the second is a conflict, and the points moved once
    assert first.status == 201
    assert (replay.status, replay.body) == (201, first.body)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert (again.status, again.code) == (409, "conflict")
    assert balance(starlodge, "guest-1") == 960
    assert balance(rideco, "rider-1") == 10
    assert len(obligations()) == 1


def test_an_earns_key_reused_for_an_exchange_is_refused_and_moves_nothing(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, rates: None
) -> None:
    # Given an earn under key K-1
    assert starlodge.earn("guest-1", 1000, idempotency_key="K-1").status == 201
    quote_id = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    # When an exchange is sent under the same key
    reply = starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id}, idempotency_key="K-1")
    # Then it is a reused key, not a server error, and nothing moved
    assert (reply.status, reply.code) == (422, "idempotency_key_reused"), reply.body
    assert (balance(starlodge, "guest-1"), balance(rideco, "rider-1")) == (1000, 0)
    assert obligations() == []
    # And the quote is still good under a fresh key
    fresh = starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id})
    assert fresh.status == 201, fresh.body
    assert ledger_ok()


def snapshot() -> tuple[int, list[Obligation]]:
    return (len(entries()), obligations())


def test_an_exchange_short_of_points_leaves_nothing_behind(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, rates: None
) -> None:
    # Given linked members, published rates, a quote for all 40 of guest-1's STAR, and then
    # a burn of 20 of them
    starlodge.earn("guest-1", 40)
    quote_id = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    assert starlodge.burn("guest-1", 20, "upgrade-1").status == 201
    before = snapshot()
    # When the quote is exchanged
    reply = starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id})
    # Then it is refused for insufficient points and nothing in the tables changed
    assert (reply.status, reply.code) == (409, "insufficient_points")
    assert snapshot() == before
    assert balance(rideco, "rider-1") == 0
    # And the quote is still usable once the points are there
    starlodge.earn("guest-1", 20)
    assert starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id}).status == 201


class CountedBalanceReads(LedgerStore):
    """The ledger table, counting the balance items read, account by account."""

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.balance_reads: list[str] = []

    def get_balance(self, account: str) -> StoredBalance | None:
        self.balance_reads.append(account)
        return super().get_balance(account)


def quoting_with(store: LedgerStore, network: DemoNetwork) -> SignedCaller:
    """Starlodge calling quotes and exchanges through `store`."""
    return exchanging_on(Ledger(store), network)


def exchanging_on(ledger: Ledger, network: DemoNetwork) -> SignedCaller:
    """Starlodge calling quotes and exchanges that post through `ledger`."""
    app = create_partner_app(
        exchanges=lambda: Exchanges(
            engine=ledger.engine,
            network=default_network_store(),
            rates=default_rates(),
            pricing=default_exchanges().pricing,
            quote_ttl=timedelta(seconds=60),
        ),
        keys=default_key_resolver,
    )
    return SignedCaller(lambda event, _: app.resolve(event, LambdaContextStub()), network.starlodge)


@pytest.mark.parametrize("earned", [0, 39], ids=["never-earned", "one-short"])
def test_a_quote_for_more_points_than_the_member_has_is_refused_with_one_read(
    network: DemoNetwork, starlodge: SignedCaller, linked: str, rates: None, earned: int
) -> None:
    # Given linked members and published rates, guest-1 holding one STAR fewer than 40, or
    # never having earned, and starlodge quoting through a ledger that counts its reads
    if earned:
        starlodge.earn("guest-1", earned)
    store = CountedBalanceReads(get_settings().ledger_table)
    counted = quoting_with(store, network)
    before = snapshot()
    # When starlodge asks for a quote of 40 STAR in RIDE for her
    body = {"member_id": "guest-1", "from_program": "STAR", "to_program": "RIDE", "points": 40}
    reply = counted.call("POST", "/v1/quotes", body, idempotency_key="Q-1")
    # Then it is refused at once as insufficient points, saying what she has, and no quote,
    # entry or obligation is written
    assert (reply.status, reply.code) == (409, "insufficient_points"), reply.body
    assert f"has {earned} STAR points available, 40 quoted" in reply.body["error"]["message"]
    assert snapshot() == before
    assert default_network_store().get_quote(derived_id("qte_", "starlodge", "Q-1")) is None
    # And her balance item was read once, the only balance read
    assert store.balance_reads == ["member:starlodge:guest-1"]


def test_a_quote_for_all_the_member_has_is_given_and_for_a_linked_programs_points_too(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, rates: None
) -> None:
    # Given guest-1 with 40 STAR and her linked rider-1 with 10 RIDE
    starlodge.earn("guest-1", 40)
    rideco.earn("rider-1", 10)
    # When starlodge quotes all 40 STAR, and 10 and then 11 of rider-1's RIDE, for her
    replies = [
        quote(starlodge, "guest-1", "STAR", "RIDE", 40),
        quote(starlodge, "guest-1", "RIDE", "STAR", 10),
        quote(starlodge, "guest-1", "RIDE", "STAR", 11),
    ]
    # Then the first two are quoted, and the third is short of the linked member's RIDE
    assert [(reply.status, reply.code) for reply in replies] == [
        (201, None),
        (201, None),
        (409, "insufficient_points"),
    ]
    assert "member rider-1 has 10 RIDE points available" in replies[2].body["error"]["message"]


def after_quotes_expire(network: DemoNetwork) -> SignedCaller:
    """Starlodge calling exchanges on a clock past every quote made so far."""
    later = datetime.now(UTC) + timedelta(seconds=get_settings().quote_ttl_seconds + 1)
    return exchanging_on(Ledger(default_ledger().store, clock=lambda: later), network)


def test_an_exchange_key_reused_for_an_expired_quote_is_a_reused_key(
    network: DemoNetwork, starlodge: SignedCaller, linked: str, rates: None
) -> None:
    # Given an exchange under key X-1, and another quote that then expires
    starlodge.earn("guest-1", 100)
    first = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    done = starlodge.call("POST", "/v1/exchanges", {"quote_id": first}, idempotency_key="X-1")
    assert done.status == 201, done.body
    second = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    late = after_quotes_expire(network)
    # When X-1 is sent for the expired quote, Then the key's reuse is what is wrong
    reused = late.call("POST", "/v1/exchanges", {"quote_id": second}, idempotency_key="X-1")
    assert (reused.status, reused.code) == (422, "idempotency_key_reused"), reused.body
    # And X-1 for its own quote still replays the exchange
    again = late.call("POST", "/v1/exchanges", {"quote_id": first}, idempotency_key="X-1")
    assert (again.status, again.body) == (201, done.body)
    assert balance(starlodge, "guest-1") == 60


def test_an_expired_quote_leaves_nothing_behind(
    network: DemoNetwork, starlodge: SignedCaller, linked: str, rates: None
) -> None:
    # Given linked members, published rates, and a quote for 40 of guest-1's STAR
    starlodge.earn("guest-1", 100)
    offer = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body
    # When it is exchanged after quotes expire
    late = after_quotes_expire(network)
    before = snapshot()
    reply = late.call("POST", "/v1/exchanges", {"quote_id": offer["quote_id"]})
    # Then it is refused as expired and nothing in the tables changed
    assert (reply.status, reply.code) == (410, "quote_expired")
    assert snapshot() == before


def test_an_exchange_over_a_revoked_link_leaves_nothing_behind(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, rates: None
) -> None:
    # Given a quote for 40 of guest-1's STAR, then the link revoked by rideco
    starlodge.earn("guest-1", 100)
    quote_id = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    rideco.call("DELETE", f"/v1/links/{linked}")
    before = snapshot()
    # When the quote is exchanged
    reply = starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id})
    # Then it is refused as not linked and nothing in the tables changed
    assert (reply.status, reply.code) == (422, "not_linked")
    assert snapshot() == before
    assert balance(starlodge, "guest-1") == 100


def test_an_unlinked_quote_is_not_linked(starlodge: SignedCaller, rates: None) -> None:
    # Given guest-1 with 100 STAR and no link, and published rates
    starlodge.earn("guest-1", 100)
    # When starlodge asks for a quote of 40 STAR in RIDE
    reply = quote(starlodge, "guest-1", "STAR", "RIDE", 40)
    # Then it is refused as not linked
    assert (reply.status, reply.code) == (422, "not_linked")


def test_too_few_points_for_one_point_is_a_validation_error(
    starlodge: SignedCaller, linked: str, rates: None
) -> None:
    # Given linked members and 1 STAR buying 0.25 RIDE
    starlodge.earn("guest-1", 100)
    # When starlodge asks for a quote of 3 STAR, short of one RIDE point
    reply = quote(starlodge, "guest-1", "STAR", "RIDE", 3)
    # Then it is a validation error
    assert (reply.status, reply.code) == (422, "validation_error")


def test_an_exchange_of_another_partners_quote_is_not_found(
    starlodge: SignedCaller, rideco: SignedCaller, linked: str, rates: None
) -> None:
    # Given a quote starlodge made for guest-1
    starlodge.earn("guest-1", 100)
    quote_id = quote(starlodge, "guest-1", "STAR", "RIDE", 40).body["quote_id"]
    # When rideco exchanges it
    reply = rideco.call("POST", "/v1/exchanges", {"quote_id": quote_id})
    # Then rideco does not find it
    assert (reply.status, reply.code) == (404, "not_found")


def test_a_pair_price_sets_the_money_side(
    starlodge: SignedCaller, linked: str, rates: None
) -> None:
    # Given linked members and STAR to RIDE at 0.25, with a pair price of 0.002 a point
    set_rate("STAR", "RIDE", "0.25", price="0.002")
    starlodge.earn("guest-1", 1000)
    # When guest-1 exchanges 30 STAR
    quote_id = quote(starlodge, "guest-1", "STAR", "RIDE", 30).body["quote_id"]
    assert starlodge.call("POST", "/v1/exchanges", {"quote_id": quote_id}).status == 201
    # Then the obligation is priced at the pair price: 30 x 0.002 = 0.060
    [owed] = obligations()
    assert (owed.terms.program, owed.terms.points, owed.terms.amount) == (
        "STAR",
        30,
        Decimal("0.060"),
    )
