"""Crash injection: a request fails just before, or just after, each AWS call it makes, and the
partner retries with the same Idempotency-Key through a healthy function.

Every write a partner makes with an Idempotency-Key is covered: earn and burn, a reversal
(full, partial, a second partial), a hold opened by an earn with `pending: true`, its full or
partial capture and its void, a link's proposal and its confirmation, a quote, an exchange,
and the cross-partner earn, hold, capture and reversal that record settlement obligations.
The calls are those the request makes on a clean run, recorded first. By default a request
fails before its first call and after each call, which leaves the table in every state a crash
can; the slow run (`make soak`) also fails it just before each later call.

Whatever the point of failure, the outcome is exactly once: the request's entries exist once
(an exchange's two legs both or neither, even before the retry); every member balance,
available and pending, is what one request leaves; every obligation, hold, link and quote is
as after one request, none of them orphaned; the table holds the same kinds of items, as many
of each, as after a clean run; the ledger check passes over entries, balances and holds; and
the retry answers as the first success would have: 201 with the right body, replayed exactly
when the crashed attempt had in fact written.

The failing client stands where boto3 raises on a lost connection: before the call nothing
reached DynamoDB; after it, DynamoDB did the work and the answer was lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from pointsnet.auth.caller import Caller, Role
from pointsnet.idempotency import derived_id, transaction_id_for
from pointsnet.ledger.accounts import member_account
from pointsnet.ledger.check import LedgerCheck, check_ledger
from pointsnet.ledger.engine import leg_id
from pointsnet.ledger.models import HoldState, Obligation
from pointsnet.network.commands import SetRate
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.network.rates import Rates
from pointsnet.partners.models import IssuedKey
from pointsnet.settings import get_settings
from pointsnet.store.dynamo import scan
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.store.network_store import NetworkStore
from tests.adversarial.harness import (
    Handler,
    create_ledger_table,
    describe,
    drop_table,
    ledger_over,
    partner_handler,
)
from tests.helpers import DemoNetwork, Reply, SignedCaller

ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"
KEY = "retry-me-1"
GUEST = member_account("starlodge", "guest-1")
RIDER = member_account("rideco", "rider-1")
OPERATOR = Caller(partner_id="network", key_id="pnk_test", role=Role.ADMIN)
# What a clean run names by KEY: the ids a retry must find, or create, exactly once.
STARLODGE_ENTRY = transaction_id_for("starlodge", KEY)
RIDECO_ENTRY = transaction_id_for("rideco", KEY)
QUOTE_ID = derived_id("qte_", "starlodge", KEY)
PROPOSED_LINK = derived_id("lnk_", "rideco", KEY)
CONFIRMATION = derived_id("cfm_", "starlodge", KEY)

# (kind, payer, payee, program, points) of a settlement obligation
Owed = tuple[str, str, str, str, int]
# (status, points held, points captured) of a hold
Held = tuple[str, int, int | None]
Item = dict[str, Any]


class FailingClient:
    """A boto3 client whose call number `fail_at` (from 0) fails before or after it is made."""

    def __init__(self, real: Any, fail_at: int | None = None, after: bool = False) -> None:
        self._real = real
        self._fail_at = fail_at
        self._after = after
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name.startswith("_") or not callable(attribute) or name in ("can_paginate",):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            number = len(self.calls)
            self.calls.append(name)
            failing = number == self._fail_at
            if failing and not self._after:
                raise EndpointConnectionError(endpoint_url=ENDPOINT)
            try:
                result = attribute(*args, **kwargs)
            except Exception as refused:
                if failing:
                    raise ReadTimeoutError(endpoint_url=ENDPOINT) from refused
                raise
            if failing:
                raise ReadTimeoutError(endpoint_url=ENDPOINT)
            return result

        return call


@dataclass(frozen=True)
class Partners:
    """Both demo partners, calling the partner API over one ledger table and one client."""

    starlodge: SignedCaller
    rideco: SignedCaller


def _has_item(pk: str) -> Callable[[list[Item]], bool]:
    return lambda items: any(item["pk"] == pk for item in items)


def _confirmed(items: list[Item]) -> bool:
    return any(item.get("confirmed_by") == CONFIRMATION for item in items)


@dataclass(frozen=True)
class Operation:
    """A write request under test: what comes before it, the request, and what is stored after.

    The expectations describe the whole table after one success: every member balance as
    (available, pending), every obligation, hold, link and quote, including those that the
    preparation made.
    """

    name: str
    prepare: Callable[[Partners], dict[str, str]]
    send: Callable[[Partners, dict[str, str]], Reply]
    balances: Mapping[str, tuple[int, int]]
    earlier_entries: int
    answer: Mapping[str, Any]  # what the success's body says (a part of it)
    sender: str = "starlodge"
    legs: tuple[str, ...] = ("",)  # the entries it posts: "" for its own id, else a leg's name
    obligations: tuple[Owed, ...] = ()
    holds: tuple[Held, ...] = ()
    links: tuple[str, ...] = ()
    quotes: tuple[str, ...] = ()
    reversed_points: tuple[str, int] | None = None
    # For a write that posts no entry: whether the table shows it landed.
    landed: Callable[[list[Item]], bool] | None = None

    def entry_ids(self) -> list[str]:
        return [
            leg_id(self.sender, KEY, leg) if leg else transaction_id_for(self.sender, KEY)
            for leg in self.legs
        ]

    def caller(self, partners: Partners) -> SignedCaller:
        return partners.starlodge if self.sender == "starlodge" else partners.rideco


def _ok(reply: Reply) -> Any:
    assert reply.status == 201, reply.body
    return reply.body


def _earned(partners: Partners, points: int) -> str:
    reply = partners.starlodge.earn("guest-1", points, "stay-0")
    return str(_ok(reply)["transaction"]["transaction_id"])


def _burned(partners: Partners, points: int) -> str:
    reply = partners.starlodge.burn("guest-1", points, "redeem-0")
    return str(_ok(reply)["transaction"]["transaction_id"])


def _held(partners: Partners, points: int) -> str:
    reply = partners.starlodge.earn("guest-1", points, "stay-0", pending=True)
    return str(_ok(reply)["transaction"]["transaction_id"])


def _proposed(partners: Partners, idempotency_key: str | None = "auto") -> Reply:
    return partners.rideco.call(
        "POST",
        "/v1/links",
        {"member_id": "rider-1", "partner_program": "STAR", "partner_member_id": "guest-1"},
        idempotency_key=idempotency_key,
    )


def _linked(partners: Partners) -> str:
    """rideco's rider-1 linked to starlodge's guest-1, both partners consenting."""
    link_id = str(_ok(_proposed(partners))["link_id"])
    _ok(partners.starlodge.call("POST", f"/v1/links/{link_id}/confirm"))
    return link_id


def _quoted(partners: Partners, idempotency_key: str | None = "auto") -> Reply:
    return partners.starlodge.call(
        "POST",
        "/v1/quotes",
        {"member_id": "guest-1", "from_program": "STAR", "to_program": "RIDE", "points": 40},
        idempotency_key=idempotency_key,
    )


def _prepare_burn_reversal(partners: Partners) -> dict[str, str]:
    _earned(partners, 100)
    burn = _burned(partners, 50)
    # the second reversal moves a reversal counter that exists
    _ok(partners.starlodge.reverse(burn, points=20))
    return {"original": burn}


def _prepare_quote(partners: Partners) -> dict[str, str]:
    _linked(partners)
    _earned(partners, 1000)
    return {}


def _prepare_exchange(partners: Partners) -> dict[str, str]:
    _prepare_quote(partners)
    return {"quote": str(_ok(_quoted(partners))["quote_id"])}


def _prepare_exchange_to_a_balance(partners: Partners) -> dict[str, str]:
    state = _prepare_exchange(partners)
    _ok(partners.rideco.earn("rider-1", 5, "ride-0"))
    return state


def _prepare_cross_hold(partners: Partners) -> dict[str, str]:
    _linked(partners)
    reply = partners.rideco.earn("rider-1", 400, "ride-0", program="STAR", pending=True)
    return {"hold": str(_ok(reply)["transaction"]["transaction_id"])}


def _prepare_cross_earn(partners: Partners) -> dict[str, str]:
    _linked(partners)
    reply = partners.rideco.earn("rider-1", 400, "ride-0", program="STAR")
    return {"original": str(_ok(reply)["transaction"]["transaction_id"])}


def _capture(caller: SignedCaller, hold_id: str, points: int | None = None) -> Reply:
    body = {} if points is None else {"points": points}  # without `points`: all of the hold
    return caller.call("POST", f"/v1/transactions/{hold_id}/capture", body, idempotency_key=KEY)


def _balance(available: int, pending: int = 0, program: str = "STAR") -> dict[str, Any]:
    return {"program": program, "available": available, "pending": pending}


def _posting(kind: str, points: int, balance: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction": {"transaction_id": STARLODGE_ENTRY, "type": kind, "points": points},
        "balance": balance,
    }


def _rideco_posting(kind: str, points: int, balance: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction": {
            "transaction_id": RIDECO_ENTRY,
            "type": kind,
            "points": points,
            "initiated_by": "rideco",
            "member_id": "guest-1",
        },
        "balance": balance,
    }


CROSS_EARN_400: Owed = ("cross_partner_earn", "rideco", "starlodge", "STAR", 400)

LEDGER_OPERATIONS = [
    Operation(
        "earn for a new member",
        prepare=lambda partners: {},
        send=lambda partners, _: partners.starlodge.earn(
            "guest-1", 100, "stay-1", idempotency_key=KEY
        ),
        balances={GUEST: (100, 0)},
        earlier_entries=0,
        answer=_posting("earn", 100, _balance(100)),
    ),
    Operation(
        "earn for a returning member",
        prepare=lambda partners: {"original": _earned(partners, 100)},
        send=lambda partners, _: partners.starlodge.earn(
            "guest-1", 25, "stay-1", idempotency_key=KEY
        ),
        balances={GUEST: (125, 0)},
        earlier_entries=1,
        answer=_posting("earn", 25, _balance(125)),
    ),
    Operation(
        "burn",
        prepare=lambda partners: {"original": _earned(partners, 100)},
        send=lambda partners, _: partners.starlodge.burn(
            "guest-1", 30, "redeem-1", idempotency_key=KEY
        ),
        balances={GUEST: (70, 0)},
        earlier_entries=1,
        answer=_posting("burn", 30, _balance(70)),
    ),
    Operation(
        "full reversal of an earn",
        prepare=lambda partners: {"original": _earned(partners, 100)},
        send=lambda partners, state: partners.starlodge.reverse(
            state["original"], idempotency_key=KEY
        ),
        balances={GUEST: (0, 0)},
        earlier_entries=1,
        answer={"transaction_id": STARLODGE_ENTRY, "type": "reversal", "points": 100},
        reversed_points=("original", 100),
    ),
    Operation(
        "partial reversal of an earn",
        prepare=lambda partners: {"original": _earned(partners, 100)},
        send=lambda partners, state: partners.starlodge.reverse(
            state["original"], points=40, idempotency_key=KEY
        ),
        balances={GUEST: (60, 0)},
        earlier_entries=1,
        answer={"transaction_id": STARLODGE_ENTRY, "type": "reversal", "points": 40},
        reversed_points=("original", 40),
    ),
    Operation(
        "second partial reversal of a burn",
        prepare=_prepare_burn_reversal,
        send=lambda partners, state: partners.starlodge.reverse(
            state["original"], points=10, idempotency_key=KEY
        ),
        balances={GUEST: (80, 0)},
        earlier_entries=3,
        answer={"transaction_id": STARLODGE_ENTRY, "type": "reversal", "points": 10},
        reversed_points=("original", 30),
    ),
]

HOLD_OPERATIONS = [
    Operation(
        "hold for a new member",
        prepare=lambda partners: {},
        send=lambda partners, _: partners.starlodge.earn(
            "guest-1", 100, "stay-1", pending=True, idempotency_key=KEY
        ),
        balances={GUEST: (0, 100)},
        earlier_entries=0,
        answer={
            "transaction": {"transaction_id": STARLODGE_ENTRY, "type": "hold", "status": "pending"},
            "balance": _balance(0, 100),
        },
        holds=(("open", 100, None),),
    ),
    Operation(
        "hold for a member with points",
        prepare=lambda partners: {"original": _earned(partners, 100)},
        send=lambda partners, _: partners.starlodge.earn(
            "guest-1", 50, "stay-1", pending=True, idempotency_key=KEY
        ),
        balances={GUEST: (100, 50)},
        earlier_entries=1,
        answer=_posting("hold", 50, _balance(100, 50)),
        holds=(("open", 50, None),),
    ),
    Operation(
        "full capture of a hold",
        prepare=lambda partners: {"hold": _held(partners, 100)},
        send=lambda partners, state: _capture(partners.starlodge, state["hold"]),
        balances={GUEST: (100, 0)},
        earlier_entries=1,
        answer=_posting("capture", 100, _balance(100)),
        holds=(("captured", 100, 100),),
    ),
    Operation(
        "partial capture of a hold",
        prepare=lambda partners: {"hold": _held(partners, 100)},
        send=lambda partners, state: _capture(partners.starlodge, state["hold"], 60),
        balances={GUEST: (60, 0)},
        earlier_entries=1,
        answer=_posting("capture", 60, _balance(60)),
        holds=(("captured", 100, 60),),
    ),
    Operation(
        "void of a hold",
        prepare=lambda partners: {"hold": _held(partners, 100)},
        send=lambda partners, state: partners.starlodge.call(
            "POST", f"/v1/transactions/{state['hold']}/void", {}, idempotency_key=KEY
        ),
        balances={GUEST: (0, 0)},
        earlier_entries=1,
        answer=_posting("void", 100, _balance(0)),
        holds=(("voided", 100, 0),),
    ),
]

NETWORK_OPERATIONS = [
    Operation(
        "link proposal",
        prepare=lambda partners: {},
        send=lambda partners, _: _proposed(partners, KEY),
        balances={},
        earlier_entries=0,
        answer={"link_id": PROPOSED_LINK, "status": "pending"},
        sender="rideco",
        legs=(),
        links=("pending",),
        landed=_has_item(f"LINK#{PROPOSED_LINK}"),
    ),
    Operation(
        "link confirmation",
        prepare=lambda partners: {"link": str(_ok(_proposed(partners))["link_id"])},
        send=lambda partners, state: partners.starlodge.call(
            "POST", f"/v1/links/{state['link']}/confirm", idempotency_key=KEY
        ),
        balances={},
        earlier_entries=0,
        answer={"status": "active"},
        legs=(),
        links=("active",),
        landed=_confirmed,
    ),
    Operation(
        "quote",
        prepare=_prepare_quote,
        send=lambda partners, _: _quoted(partners, KEY),
        balances={GUEST: (1000, 0)},
        earlier_entries=1,
        answer={"quote_id": QUOTE_ID, "rate": "0.25", "points_out": 40, "points_in": 10},
        legs=(),
        links=("active",),
        quotes=("open",),
        landed=_has_item(f"QUOTE#{QUOTE_ID}"),
    ),
    Operation(
        "exchange",
        prepare=_prepare_exchange,
        send=lambda partners, state: partners.starlodge.call(
            "POST", "/v1/exchanges", {"quote_id": state["quote"]}, idempotency_key=KEY
        ),
        balances={GUEST: (960, 0), RIDER: (10, 0)},
        earlier_entries=1,
        answer={
            "exchange_id": derived_id("exc_", "starlodge", KEY),
            "points_out": 40,
            "points_in": 10,
            "debit": {"transaction_id": STARLODGE_ENTRY, "points": 40},
            "credit": {"transaction_id": leg_id("starlodge", KEY, "credit"), "points": 10},
            "balances": {"from": _balance(960), "to": _balance(10, program="RIDE")},
        },
        legs=("", "credit"),
        obligations=(("exchange", "starlodge", "rideco", "RIDE", 10),),
        links=("active",),
        quotes=("used",),
    ),
    Operation(
        "exchange into a member with points",
        prepare=_prepare_exchange_to_a_balance,
        send=lambda partners, state: partners.starlodge.call(
            "POST", "/v1/exchanges", {"quote_id": state["quote"]}, idempotency_key=KEY
        ),
        balances={GUEST: (960, 0), RIDER: (15, 0)},
        earlier_entries=2,
        answer={"balances": {"from": _balance(960), "to": _balance(15, program="RIDE")}},
        legs=("", "credit"),
        obligations=(("exchange", "starlodge", "rideco", "RIDE", 10),),
        links=("active",),
        quotes=("used",),
    ),
    Operation(
        "cross-partner earn",
        prepare=lambda partners: {"link": _linked(partners)},
        send=lambda partners, _: partners.rideco.earn(
            "rider-1", 400, "ride-1", program="STAR", idempotency_key=KEY
        ),
        balances={GUEST: (400, 0)},
        earlier_entries=0,
        answer=_rideco_posting("earn", 400, _balance(400)),
        sender="rideco",
        obligations=(CROSS_EARN_400,),
        links=("active",),
    ),
    Operation(
        "cross-partner hold",
        prepare=lambda partners: {"link": _linked(partners)},
        send=lambda partners, _: partners.rideco.earn(
            "rider-1", 400, "ride-1", program="STAR", pending=True, idempotency_key=KEY
        ),
        balances={GUEST: (0, 400)},
        earlier_entries=0,
        answer=_rideco_posting("hold", 400, _balance(0, 400)),
        sender="rideco",
        holds=(("open", 400, None),),
        links=("active",),
    ),
    Operation(
        "partial capture of a cross-partner hold",
        prepare=_prepare_cross_hold,
        send=lambda partners, state: _capture(partners.rideco, state["hold"], 300),
        balances={GUEST: (300, 0)},
        earlier_entries=1,
        answer=_rideco_posting("capture", 300, _balance(300)),
        sender="rideco",
        obligations=(("cross_partner_earn", "rideco", "starlodge", "STAR", 300),),
        holds=(("captured", 400, 300),),
        links=("active",),
    ),
    Operation(
        "partial reversal of a cross-partner earn",
        prepare=_prepare_cross_earn,
        send=lambda partners, state: partners.rideco.reverse(
            state["original"], points=100, idempotency_key=KEY
        ),
        balances={GUEST: (300, 0)},
        earlier_entries=1,
        answer={"transaction_id": RIDECO_ENTRY, "type": "reversal", "points": 100},
        sender="rideco",
        obligations=(CROSS_EARN_400, ("reversal", "rideco", "starlodge", "STAR", -100)),
        links=("active",),
        reversed_points=("original", 100),
    ),
]

OPERATIONS = LEDGER_OPERATIONS + HOLD_OPERATIONS + NETWORK_OPERATIONS


def partner_app_over(table: str, client: Any = None) -> Handler:
    """The partner API the default wiring builds, on `table`, speaking through `client`."""
    settings = get_settings()
    ledger = ledger_over(table, client)
    network, pricing = ledger.network, ledger.pricing
    rates = Rates(network)
    links = Links(network, pending_for=timedelta(seconds=settings.link_pending_seconds))
    exchanges = Exchanges(
        engine=ledger.ledger.engine,
        network=network,
        rates=rates,
        pricing=pricing,
        quote_ttl=timedelta(seconds=settings.quote_ttl_seconds),
    )
    return partner_handler(ledger, links, rates, exchanges)


@dataclass
class Rig:
    """A fresh ledger table, and both partners calling through a client of the test's choice."""

    table: str
    network: DemoNetwork

    def partners(self, client: Any = None) -> Partners:
        def caller(key: IssuedKey) -> SignedCaller:
            return SignedCaller(partner_app_over(self.table, client), key)

        return Partners(caller(self.network.starlodge), caller(self.network.rideco))


@dataclass(frozen=True)
class Outcome:
    """What the table holds, with the ids and times that differ from run to run left out."""

    kinds: Counter[str]  # items by the kind their keys name, e.g. "TXN/ENTRY", "ACCT/LINK"
    balances: dict[str, tuple[int, int]]
    obligations: list[Owed]
    holds: list[Held]
    links: list[str]
    quotes: list[str]
    reversals: list[int]  # points left to reverse, per reversed transaction


def table_items(table: str) -> list[Item]:
    return list(scan(boto3.client("dynamodb"), table, ConsistentRead=True))


def _kind(item: Item) -> str:
    """What an item is, by its keys: TXN/ENTRY, ACCT/LINK, OBL/ (an obligation's sk is a time)."""
    sort_key = str(item["sk"]).split("#")[0]
    named = sort_key.isalpha() and sort_key.isupper()
    return f"{str(item['pk']).split('#')[0]}/{sort_key if named else ''}"


def outcome_of(items: list[Item]) -> Outcome:
    kinds = Counter(_kind(item) for item in items)
    of_kind = {kind: [item for item in items if _kind(item) == kind] for kind in kinds}
    obligations = [
        Obligation.model_validate(item["obligation"]) for item in of_kind.get("OBL/", [])
    ]
    holds = [HoldState.model_validate(item["hold"]) for item in of_kind.get("TXN/HOLD", [])]
    return Outcome(
        kinds=kinds,
        balances={
            str(item["pk"]).removeprefix("ACCT#"): (
                int(item["available"]),
                int(item.get("pending", 0)),
            )
            for item in of_kind.get("ACCT/BALANCE", [])
        },
        obligations=sorted(
            (
                owed.kind,
                owed.terms.payer,
                owed.terms.payee,
                owed.terms.program,
                owed.terms.points,
            )
            for owed in obligations
        ),
        holds=sorted((hold.status.value, hold.points, hold.points_captured) for hold in holds),
        links=sorted(str(item["link"]["status"]) for item in of_kind.get("LINK/LINK", [])),
        quotes=sorted(str(item["quote"]["status"]) for item in of_kind.get("QUOTE/QUOTE", [])),
        reversals=sorted(int(item["remaining"]) for item in of_kind.get("TXN/REVERSAL", [])),
    )


def assert_as_expected(operation: Operation, items: list[Item], where: str) -> Outcome:
    """The table holds what one success of the request leaves, and nothing points nowhere."""
    outcome = outcome_of(items)
    assert outcome.balances == dict(operation.balances), f"{where}: {outcome.balances}"
    assert outcome.obligations == sorted(operation.obligations), f"{where}: {outcome.obligations}"
    assert outcome.holds == sorted(operation.holds), f"{where}: {outcome.holds}"
    assert outcome.links == sorted(operation.links), f"{where}: {outcome.links}"
    assert outcome.quotes == sorted(operation.quotes), f"{where}: {outcome.quotes}"
    entries = {
        str(item["pk"]).removeprefix("TXN#"): item for item in items if _kind(item) == "TXN/ENTRY"
    }
    for item in items:
        if "obligation" in item:
            owed = item["obligation"]["transaction_id"]
            assert owed in entries, f"{where}: an obligation for no entry {owed}"
        if "hold" in item:
            assert str(item["pk"]).removeprefix("TXN#") in entries, f"{where}: {item}"
            resolved_by = item["hold"].get("resolved_by")
            assert resolved_by in (None, *entries), f"{where}: resolved by {resolved_by}"
        if item.get("used_by"):
            used_by = item["used_by"]
            assert any(
                entry["transaction"].get("exchange_id") == used_by for entry in entries.values()
            ), f"{where}: a quote used by no exchange {used_by}"
    return outcome


def full_ledger_check(table: str) -> LedgerCheck:
    """The ledger check over entries and balances, and over lots and holds too."""
    return check_ledger(LedgerStore(table).scan(lots_and_holds=True), lots_and_holds=True)


def assert_says(body: Any, expected: Mapping[str, Any], where: str) -> None:
    """`body` has every field of `expected`, nested objects compared field by field."""
    assert isinstance(body, dict), f"{where}: {body}"
    for name, value in expected.items():
        if isinstance(value, Mapping):
            assert_says(body.get(name), value, f"{where}.{name}")
        else:
            assert body.get(name) == value, f"{where}.{name}: {body.get(name)!r} != {value!r}"


def set_rates() -> None:
    """Given a published rate: 1 STAR buys 0.25 RIDE."""
    settings = get_settings()
    Rates(NetworkStore(settings.ledger_table, settings.directory_table)).set_rate(
        OPERATOR,
        "STAR",
        "RIDE",
        SetRate.model_validate(
            {"rate": "0.25", "effective_from": datetime(2020, 1, 1, tzinfo=UTC)}
        ),
    )


@pytest.fixture
def rated(network: DemoNetwork) -> DemoNetwork:
    """Given the demo network and a rate to quote at."""
    set_rates()
    return network


@dataclass(frozen=True)
class CleanRun:
    calls: list[str]
    outcome: Outcome


def clean_run(network: DemoNetwork, operation: Operation) -> CleanRun:
    """The AWS calls the request makes when nothing fails, and the table after it."""
    rig = Rig(create_ledger_table("crash"), network)
    try:
        state = operation.prepare(rig.partners())
        counting = FailingClient(boto3.client("dynamodb"))
        reply = operation.send(rig.partners(counting), state)
        assert reply.status == 201, reply.body
        assert "Idempotent-Replayed" not in reply.headers
        assert_says(reply.body, operation.answer, f"{operation.name}: clean run")
        outcome = assert_as_expected(operation, table_items(rig.table), operation.name)
        return CleanRun(counting.calls, outcome)
    finally:
        drop_table(rig.table)


def landed(operation: Operation, items: list[Item], where: str) -> bool:
    """Whether the crashed attempt's write is in the table: all of it, or none of it."""
    if operation.landed is not None:
        return operation.landed(items)
    entries = {str(item["pk"]).removeprefix("TXN#") for item in items if _kind(item) == "TXN/ENTRY"}
    posted = [transaction_id in entries for transaction_id in operation.entry_ids()]
    assert all(posted) or not any(posted), f"{where}: half written, {posted}"
    return all(posted)


def assert_exactly_once(
    rig: Rig, operation: Operation, state: dict[str, str], where: str, clean: Outcome
) -> None:
    healthy = rig.partners()
    landed_before_retry = landed(operation, table_items(rig.table), where)
    # When the partner retries with the same key
    retry = operation.send(healthy, state)
    # Then it succeeds, as a replay exactly when the crashed attempt had landed, saying so
    assert retry.status == 201, f"{where}: {retry.body}"
    replayed = retry.headers.get("Idempotent-Replayed") == "true"
    assert replayed == landed_before_retry, where
    assert_says(retry.body, operation.answer, where)
    again = operation.send(healthy, state)
    assert (again.status, again.body) == (201, retry.body), where
    assert again.headers.get("Idempotent-Replayed") == "true", where
    # And the request's entries exist once, beside those that came before it
    items = table_items(rig.table)
    entries = {str(item["pk"]) for item in items if _kind(item) == "TXN/ENTRY"}
    for transaction_id in operation.entry_ids():
        assert f"TXN#{transaction_id}" in entries, f"{where}: no entry {transaction_id}"
    assert len(entries) == operation.earlier_entries + len(operation.legs), (
        f"{where}: {sorted(entries)}"
    )
    # And the table holds what one clean success leaves, no more and no less
    outcome = assert_as_expected(operation, items, where)
    assert outcome == clean, f"{where}: {outcome} after a crash, {clean} after a clean run"
    check = full_ledger_check(rig.table)
    assert check.ok, f"{where}: {describe(check)} holds={check.mismatched_holds}"
    if operation.reversed_points:
        name, points = operation.reversed_points
        view = operation.caller(healthy).get(f"/v1/transactions/{state[name]}")
        assert view.body.get("points_reversed") == points, f"{where}: {view.body}"


def crash_and_retry(network: DemoNetwork, operation: Operation, exhaustive: bool) -> None:
    clean = clean_run(network, operation)
    assert clean.calls, "the request made no AWS call"
    for phase, number in crash_points(len(clean.calls), exhaustive):
        call = clean.calls[number]
        where = f"{operation.name}: failing {phase} call {number} ({call}) of {clean.calls}"
        rig = Rig(create_ledger_table("crash"), network)
        try:
            # Given the request's preconditions
            state = operation.prepare(rig.partners())
            # When the request fails at this call
            failing = FailingClient(boto3.client("dynamodb"), number, after=phase == "after")
            crashed = operation.send(rig.partners(failing), state)
            assert number < len(failing.calls), f"{where}: the call was never made"
            assert crashed.status == 500 and crashed.code == "internal_error", where
            assert "Traceback" not in str(crashed.body), where
            # Then a retry through a healthy function writes exactly once
            assert_exactly_once(rig, operation, state, where, clean.outcome)
        finally:
            drop_table(rig.table)


def crash_points(calls: int, exhaustive: bool) -> list[tuple[str, int]]:
    """Before the first call and after each one: every state a crash can leave the table in.

    Failing before a later call leaves the table as failing after the one before it does
    (nothing happens in between but computing); `exhaustive` gives those points instead.
    """
    if exhaustive:
        return [("before", number) for number in range(1, calls)]
    return [("before", 0)] + [("after", number) for number in range(calls)]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_a_crash_at_any_call_then_a_retry_writes_exactly_once(
    rated: DemoNetwork, operation: Operation
) -> None:
    # Given a network with rates (the fixture) and an operation's preconditions
    # When its request fails before its first AWS call, or after any one of them
    # Then a retry with the same Idempotency-Key writes exactly once
    crash_and_retry(rated, operation, exhaustive=False)


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_a_crash_just_before_any_later_call_then_a_retry_writes_exactly_once(
    rated: DemoNetwork, operation: Operation
) -> None:
    # Given a network with rates (the fixture) and an operation's preconditions
    # When its request fails just before any later AWS call
    # Then a retry with the same Idempotency-Key writes exactly once
    crash_and_retry(rated, operation, exhaustive=True)


def test_a_retry_after_a_lost_burn_replays_even_once_the_points_are_gone(
    network: DemoNetwork,
) -> None:
    burn = next(operation for operation in OPERATIONS if operation.name == "burn")
    rig = Rig(create_ledger_table("crash"), network)
    try:
        # Given a member with 100 points whose burn of 60 posted but whose answer was lost
        healthy = rig.partners().starlodge
        healthy.earn("guest-1", 100, "stay-0")
        commit = clean_run(network, burn).calls.index("transact_write_items")
        failing = FailingClient(boto3.client("dynamodb"), commit, after=True)
        lost = rig.partners(failing).starlodge.burn("guest-1", 60, "redeem-1", idempotency_key=KEY)
        assert (lost.status, lost.code) == (500, "internal_error")
        # And the remaining 40 were burned meanwhile
        assert healthy.burn("guest-1", 40, "redeem-2").status == 201
        # When the lost burn is retried
        retry = healthy.burn("guest-1", 60, "redeem-1", idempotency_key=KEY)
        # Then it replays the first success rather than failing for want of points
        assert retry.status == 201, retry.body
        assert retry.headers.get("Idempotent-Replayed") == "true"
        assert retry.body["balance"]["available"] == 40
        assert outcome_of(table_items(rig.table)).balances == {GUEST: (0, 0)}
        assert full_ledger_check(rig.table).ok
    finally:
        drop_table(rig.table)
