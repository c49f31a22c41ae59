"""A stateful property test: random partner requests, and time passing, against a reference
model of the ledger.

Hypothesis drives two members of each of two partners through the partner API's routes, with
a ledger table built from template.yaml on moto, on a clock it moves itself (from the last
evening of a month, so points soon fall into different lots and reach their dates):

- earns, burns (some across several lots) and full or partial reversals of earns, burns and
  captures;
- holds (pending earns): captured in full or in part, voided, or left past their program's
  timeout, after which a capture is refused, a void still allowed, and the holds sweep voids
  them;
- links (every run starts with two linked members holding points), revoked now and then;
  quotes at the rate in force, which changes on set dates; exchanges of them, refused once
  the quote is used, expired, unaffordable or its link revoked;
- expiry lots: STAR points expire by the month they were earned in, with a notice a week
  before; RIDE points only while the operator has an expiry policy on for RIDE, which it
  switches on and off (lots keep the date they were given); the lifecycle sweeper, run at the
  clock's time, records the notices and expires the lots;
- replays of each kind of request, and reused idempotency keys with another body.

The model states every answer on its own. Points bought are the rate in force times the points
sold, rounded down. A debit spends the soonest-expiring lot first and never-expiring points
last; an earn's or capture's reversal takes from its own lot first (from never-expiring points
first when it made no lot); a burn's reversal gives points back to the lots they came from,
last taken first, even to a lot whose date has passed, which the next sweep then expires.
After every step the ledger check (lots and holds included) passes, no stored balance
(available or pending) is negative, and every stored balance, lot (with its notice) and hold
equals the model's.

Outcomes are labelled with `hypothesis.event`; run with HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY=1
to see which paths a run reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pointsnet.auth.caller import Caller, Role
from pointsnet.clock import rfc3339
from pointsnet.idempotency import transaction_id_for
from pointsnet.ledger.accounts import member_account
from pointsnet.ledger.check import LedgerCheck, check_ledger
from pointsnet.ledger.models import HoldState
from pointsnet.ledger.port import StoredBalance, StoredLot
from pointsnet.ledger.service import Ledger
from pointsnet.ledger.sweeps import Sweeper, SweepJob
from pointsnet.ledger.upkeep import Upkeep
from pointsnet.network.commands import SetRate
from pointsnet.network.cross_partner import CrossPartnerLedger
from pointsnet.network.exchanges import Exchanges
from pointsnet.network.links import Links
from pointsnet.network.pricing import Pricing
from pointsnet.network.rates import Rates
from pointsnet.programs.policy import PolicyBook
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.ledger_store import LedgerStore
from pointsnet.store.network_store import NetworkStore
from pointsnet.store.policy_store import PolicyStore
from tests.adversarial.harness import create_ledger_table, drop_table, no_sleep, partner_handler
from tests.helpers import DemoNetwork, Reply, SignedCaller
from tests.points_life import DIRECTORY_TABLE, LEDGER_TABLE, Clock, set_policy

PARTNERS = ("starlodge", "rideco")
PROGRAM = {"starlodge": "STAR", "rideco": "RIDE"}
OTHER = {"starlodge": "rideco", "rideco": "starlodge"}
MEMBERS = ("m-1", "m-2")
REPLAYED = "Idempotent-Replayed"
NETWORK = "network"
OPERATOR = Caller(partner_id=NETWORK, key_id="pnk_model", role=Role.ADMIN)

# The last evening of a month: points earned now and a few hours later join different lots,
# and the first lot reaches its date within weeks.
START = datetime(2025, 1, 31, 22, tzinfo=UTC)
HOLD_TIMEOUT_DAYS = {"starlodge": 2, "rideco": 4}
QUOTE_TTL = timedelta(seconds=60)
LINK_PENDING = timedelta(days=1)
# Points of `to` per point of `from`, from each date on: what the operator published.
RATES: dict[tuple[str, str], tuple[tuple[datetime, str], ...]] = {
    ("STAR", "RIDE"): (
        (datetime(2020, 1, 1, tzinfo=UTC), "0.37"),
        (START + timedelta(days=3), "0.45"),
    ),
    ("RIDE", "STAR"): (
        (datetime(2020, 1, 1, tzinfo=UTC), "2.6"),
        (START + timedelta(days=8), "2.15"),
    ),
}

SHORT = settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
LONG = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True)
class Expiry:
    """An `after_earning` policy: a month's points expire at the start of the month `months`
    + 1 after it, and are announced `notice_days` before (none when 0)."""

    months: int
    notice_days: int

    def lot_for(self, earned_at: datetime) -> date:
        index = earned_at.year * 12 + earned_at.month - 1 + self.months + 1
        return date(index // 12, index % 12 + 1, 1)

    def notice_for(self, lot: date) -> datetime | None:
        return midnight(lot) - timedelta(days=self.notice_days) if self.notice_days else None

    def as_policy(self) -> dict[str, Any]:
        return {"kind": "after_earning", "months": self.months, "notice_days": self.notice_days}


STAR_EXPIRY = Expiry(months=1, notice_days=7)
RIDE_EXPIRY = Expiry(months=2, notice_days=0)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Answered:
    """A request the network answered 201, what it answered (a replay must repeat it), and the
    transaction (or quote, or link) it made."""

    partner: str
    path: str
    body: dict[str, Any]
    key: str
    reply: Reply
    transaction_id: str
    account: str
    kind: str  # earn, burn, reversal, hold, capture, void, quote, exchange, link or confirm


@dataclass(frozen=True)
class Linked:
    """An active (maybe since revoked) link, as proposed by one partner and confirmed by the
    other."""

    link_id: str
    accounts: dict[str, str]  # the member account at each partner
    proposal: Answered
    confirmation: Answered


@dataclass
class Lot:
    remaining: int
    notice_at: datetime | None
    noticed: bool = False


@dataclass
class Account:
    available: int = 0
    pending: int = 0
    lots: dict[date, Lot] = field(default_factory=dict)  # by expiry date, which names the lot
    # (created_at, what): a transaction id, or for the network's own postings what they did
    history: list[tuple[str, str]] = field(default_factory=list)

    @property
    def unlotted(self) -> int:
        return self.available - sum(lot.remaining for lot in self.lots.values())


@dataclass
class Hold:
    partner: str
    account: str
    points: int
    reference: str
    void_after: datetime
    status: str = "open"
    captured: int | None = None
    resolved_by: str | None = None  # None while open, or when the network voided it


@dataclass
class Quote:
    partner: str
    quote_id: str
    source: str
    destination: str
    points_out: int
    points_in: int
    expires_at: datetime
    link_id: str
    used: bool = False


@dataclass
class Model:
    """What the ledger must hold: accounts with their lots and history, what is reversible,
    the holds, the active links, the quotes, and how each program's points expire now."""

    expiry: dict[str, Expiry | None]
    accounts: dict[str, Account] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)
    own_lot: dict[str, date | None] = field(default_factory=dict)  # earn or capture: its lot
    # burn: the lots (None: never-expiring points) it took from and has not given back, in order
    taken: dict[str, list[tuple[date | None, int]]] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    links: dict[tuple[str, str], Linked] = field(default_factory=dict)  # (account, program)
    quotes: dict[str, Quote] = field(default_factory=dict)

    def account(self, account: str) -> Account:
        return self.accounts.setdefault(account, Account())

    def available(self, account: str) -> int:
        return self.accounts[account].available if account in self.accounts else 0

    def record(self, account: str, at: datetime, what: str) -> None:
        self.account(account).history.append((rfc3339(at), what))

    def credit(self, account: str, points: int, at: datetime) -> date | None:
        """Points that join the lot of `at` under the program's policy now; that lot."""
        partner = account.split(":")[1]
        policy = self.expiry[partner]
        self.account(account).available += points
        if policy is None:
            return None
        lot = policy.lot_for(at)
        self.add_to_lot(account, lot, points)
        return lot

    def add_to_lot(self, account: str, lot: date, points: int) -> None:
        lots = self.account(account).lots
        if lot not in lots:
            policy = self.expiry[account.split(":")[1]]
            lots[lot] = Lot(0, policy.notice_for(lot) if policy else None)
        lots[lot].remaining += points

    def debit(
        self, account: str, points: int, first: date | None = None, unlotted_first: bool = False
    ) -> list[tuple[date | None, int]]:
        """Take points: from `first` (or never-expiring points), then soonest-expiring first,
        never-expiring points last. What was taken from where, in order."""
        held = self.accounts[account]
        sources: list[date | None] = [None] if unlotted_first else []
        sources += sorted(held.lots, key=lambda lot: (lot != first, lot))
        sources += [] if unlotted_first else [None]
        taken: list[tuple[date | None, int]] = []
        unlotted, left = held.unlotted, points
        for source in sources:
            have = unlotted if source is None else held.lots[source].remaining
            part = min(left, have)
            if part <= 0:
                continue
            taken.append((source, part))
            left -= part
            if source is None:
                unlotted -= part
            else:
                held.lots[source].remaining -= part
                if held.lots[source].remaining == 0:
                    del held.lots[source]
        assert left == 0, f"the model's {account} lacks {left} points"
        held.available -= points
        return taken

    def give_back(self, burn_id: str, account: str, points: int) -> list[date]:
        """A burn's reversal: points go back where the burn took them, last taken first, even
        to a lot whose date has passed. The lots they went back to."""
        taken = self.taken[burn_id]
        self.account(account).available += points
        lots: list[date] = []
        left = points
        while left:
            lot, part = taken[-1] if taken else (None, left)
            back = min(part, left)
            if lot is not None:
                self.add_to_lot(account, lot, back)
                lots.append(lot)
            if taken:
                taken[-1] = (lot, part - back)
                if taken[-1][1] == 0:
                    taken.pop()
            left -= back
        return lots

    def rate(self, from_program: str, to_program: str, at: datetime) -> str:
        return max(
            (start, rate) for start, rate in RATES[(from_program, to_program)] if start <= at
        )[1]

    def deadlines(self, now: datetime) -> list[datetime]:
        """Every moment after `now` at which time alone changes an answer or a sweep."""
        moments = [hold.void_after for hold in self.holds.values() if hold.status == "open"]
        moments += [quote.expires_at for quote in self.quotes.values() if not quote.used]
        for account in self.accounts.values():
            for day, lot in account.lots.items():
                moments.append(midnight(day))
                if lot.notice_at is not None and not lot.noticed:
                    moments.append(lot.notice_at)
        return [moment for moment in moments if moment > now]


class LedgerMachine(RuleBasedStateMachine):
    network: DemoNetwork  # bound by the test that runs the machine

    reversible = Bundle("reversible")  # earns, burns and captures
    reversals = Bundle("reversals")
    answered = Bundle("answered")  # every request answered 201, but links and exchanges
    holds = Bundle("holds")
    links = Bundle("links")
    quotes = Bundle("quotes")
    exchanges = Bundle("exchanges")

    def __init__(self) -> None:
        super().__init__()
        self.table = create_ledger_table("model")
        self.clock = Clock(START)
        self.policy_epoch = 0
        set_policy("rideco", hold_timeout_days=HOLD_TIMEOUT_DAYS["rideco"])
        network = NetworkStore(self.table, DIRECTORY_TABLE)
        pricing = Pricing(network, DirectoryStore(DIRECTORY_TABLE))
        own = Ledger(
            LedgerStore(self.table),
            clock=self.clock,
            sleep=no_sleep,
            # Policies are read once, and again whenever the operator changes one.
            policies=PolicyBook(
                PolicyStore(DIRECTORY_TABLE), cache_seconds=1, monotonic=lambda: self.policy_epoch
            ),
        )
        ledger = CrossPartnerLedger(own, network, pricing)
        links = Links(network, pending_for=LINK_PENDING, clock=self.clock)
        rates = Rates(network, clock=self.clock)
        exchanges = Exchanges(own.engine, network, rates, pricing, quote_ttl=QUOTE_TTL)
        handler = partner_handler(ledger, links, rates, exchanges)
        keys = {"starlodge": self.network.starlodge, "rideco": self.network.rideco}
        self.callers = {partner: SignedCaller(handler, keys[partner]) for partner in PARTNERS}
        self.sweeper = Sweeper(Upkeep(own), own.store)
        self.model = Model(expiry={"starlodge": STAR_EXPIRY, "rideco": None})
        self.burns: dict[str, Answered] = {}
        self.keys = 0

    def teardown(self) -> None:
        drop_table(self.table)

    # helpers

    @property
    def now(self) -> datetime:
        return self.clock.now

    def next_key(self) -> str:
        self.keys += 1
        return f"key-{self.keys}"

    def send(self, partner: str, path: str, body: dict[str, Any], key: str) -> Reply:
        # Every request a second after the one before: histories sort by time, then by id.
        self.clock.at(self.now + timedelta(seconds=1))
        return self.callers[partner].call("POST", path, body, idempotency_key=key)

    def wait_for(self, moment: datetime, timing: int | None) -> None:
        """Let time pass until the next request lands `timing` seconds from `moment` (a
        timeout or an expiry), if that is still ahead; None: no waiting."""
        if timing is not None and moment + timedelta(seconds=timing - 1) > self.now:
            self.clock.at(moment + timedelta(seconds=timing - 1))

    def balance(self, account: str) -> dict[str, Any]:
        held = self.model.accounts[account]
        program = PROGRAM[account.split(":")[1]]
        return {"program": program, "available": held.available, "pending": held.pending}

    # earn and burn

    @rule(
        targets=(reversible, answered),
        partner=st.sampled_from(PARTNERS),
        member=st.sampled_from(MEMBERS),
        points=st.integers(1, 300),
    )
    def earn(self, partner: str, member: str, points: int) -> Any:
        return self._earn(partner, member, points)

    def _earn(self, partner: str, member: str, points: int) -> Answered:
        key = self.next_key()
        path = f"/v1/members/{member}/earn"
        body = {"points": points, "reference": key}
        reply = self.send(partner, path, body, key)
        assert reply.status == 201, reply.body
        account = member_account(partner, member)
        transaction_id = reply.body["transaction"]["transaction_id"]
        assert transaction_id == transaction_id_for(partner, key)
        self.model.own_lot[transaction_id] = self.model.credit(account, points, self.now)
        self.model.record(account, self.now, transaction_id)
        self.model.remaining[transaction_id] = points
        assert reply.body["balance"] == self.balance(account)
        return Answered(partner, path, body, key, reply, transaction_id, account, "earn")

    @rule(
        targets=(reversible, answered),
        partner=st.sampled_from(PARTNERS),
        member=st.sampled_from(MEMBERS),
        points=st.integers(1, 400),
        affordable=st.booleans(),
    )
    def burn(self, partner: str, member: str, points: int, affordable: bool) -> Any:
        return self._burn(partner, member, points, affordable)

    @rule(
        targets=(reversible, answered),
        earlier=reversible,
        points=st.integers(1, 400),
        affordable=st.booleans(),
    )
    def burn_from_a_member_with_points(
        self, earlier: Answered, points: int, affordable: bool
    ) -> Any:
        _, partner, member = earlier.account.split(":", 2)
        return self._burn(partner, member, points, affordable)

    @precondition(lambda self: bool(self.members_with_lots()))
    @rule(targets=(reversible, answered), data=st.data())
    def a_burn_across_lots(self, data: st.DataObject) -> Any:
        """A burn larger than the soonest-expiring lot of a member with points in several."""
        account = data.draw(st.sampled_from(self.members_with_lots()))
        held = self.model.accounts[account]
        soonest = held.lots[min(held.lots)].remaining
        points = data.draw(st.integers(soonest + 1, held.available))
        _, partner, member = account.split(":", 2)
        return self._burn(partner, member, points, affordable=False)

    def members_with_lots(self) -> list[str]:
        """Members whose points are in more than one lot (or in lots and never-expiring)."""
        return sorted(
            account_id
            for account_id, account in self.model.accounts.items()
            if account.lots and len(account.lots) + (account.unlotted > 0) > 1
        )

    def _burn(self, partner: str, member: str, points: int, affordable: bool) -> Any:
        key = self.next_key()
        path = f"/v1/members/{member}/burn"
        account = member_account(partner, member)
        available = self.model.available(account)
        if affordable and available:
            points = 1 + (points - 1) % available
        body = {"points": points, "reference": key}
        reply = self.send(partner, path, body, key)
        if points > available:
            assert (reply.status, reply.code) == (409, "insufficient_points"), reply.body
            event("burn: insufficient points")
            return multiple()
        assert reply.status == 201, reply.body
        transaction_id = reply.body["transaction"]["transaction_id"]
        self.model.taken[transaction_id] = self.model.debit(account, points)
        spread = len({lot for lot, _ in self.model.taken[transaction_id]})
        event("burn: from more than one lot" if spread > 1 else "burn: posted")
        self.model.record(account, self.now, transaction_id)
        self.model.remaining[transaction_id] = points
        assert reply.body["balance"] == self.balance(account)
        burned = Answered(partner, path, body, key, reply, transaction_id, account, "burn")
        self.burns[transaction_id] = burned
        return burned

    # reversals

    @rule(
        targets=(reversals, answered),
        original=reversible,
        points=st.none() | st.integers(1, 320),
        within=st.booleans(),
    )
    def reverse(self, original: Answered, points: int | None, within: bool) -> Any:
        return self._reverse(original, points, within)

    @precondition(lambda self: bool(self.burns_across_lots()))
    @rule(targets=(reversals, answered), data=st.data())
    def a_burn_across_lots_reversed_in_part(self, data: st.DataObject) -> Any:
        """Where the points go back depends on the order the burn took them in."""
        burn_id = data.draw(st.sampled_from(self.burns_across_lots()))
        points = data.draw(st.integers(1, self.model.remaining[burn_id] - 1))
        return self._reverse(self.burns[burn_id], points, within=False)

    def burns_across_lots(self) -> list[str]:
        """Burns with points still to give back to more than one lot (or never-expiring)."""
        return sorted(
            burn_id
            for burn_id, taken in self.model.taken.items()
            if len({lot for lot, _ in taken}) > 1 and self.model.remaining[burn_id] > 1
        )

    def _reverse(self, original: Answered, points: int | None, within: bool) -> Any:
        key = self.next_key()
        path = f"/v1/transactions/{original.transaction_id}/reverse"
        remaining = self.model.remaining[original.transaction_id]
        if points is not None and within and remaining:
            points = 1 + (points - 1) % remaining
        body: dict[str, Any] = {} if points is None else {"points": points}
        wanted = remaining if points is None else points
        delta = wanted if original.kind == "burn" else -wanted
        reply = self.send(original.partner, path, body, key)
        if remaining == 0 or wanted > remaining:
            assert (reply.status, reply.code) == (409, "conflict"), reply.body
            event("reversal: more than remains")
            return multiple()
        if self.model.available(original.account) + delta < 0:
            assert (reply.status, reply.code) == (409, "insufficient_points"), reply.body
            event("reversal: insufficient points")
            return multiple()
        event(f"reversal: of a {original.kind}")
        assert reply.status == 201, reply.body
        assert reply.body["type"] == "reversal"
        assert reply.body["reverses"] == original.transaction_id
        assert reply.body["points"] == wanted
        reversal_id = reply.body["transaction_id"]
        if original.kind == "burn":
            lots = self.model.give_back(original.transaction_id, original.account, wanted)
            if any(midnight(day) <= self.now for day in lots):
                event("reversal: points back in a lot past its date")
        else:
            own_lot = self.model.own_lot[original.transaction_id]
            self.model.debit(original.account, wanted, own_lot, unlotted_first=own_lot is None)
        self.model.record(original.account, self.now, reversal_id)
        self.model.remaining[original.transaction_id] = remaining - wanted
        return Answered(
            original.partner, path, body, key, reply, reversal_id, original.account, "reversal"
        )

    @rule(original=st.one_of(reversals, holds, exchanges))
    def only_earns_burns_and_captures_are_reversed(self, original: Answered) -> None:
        path = f"/v1/transactions/{original.transaction_id}/reverse"
        reply = self.send(original.partner, path, {}, self.next_key())
        assert (reply.status, reply.code) == (409, "conflict"), reply.body

    @rule(original=st.one_of(reversible, quotes))
    def another_partner_cannot_see_it(self, original: Answered) -> None:
        other = OTHER[original.partner]
        if original.kind == "quote":
            body = {"quote_id": original.transaction_id}
            reply = self.send(other, "/v1/exchanges", body, self.next_key())
            assert (reply.status, reply.code) == (404, "not_found"), reply.body
            return
        path = f"/v1/transactions/{original.transaction_id}/reverse"
        reply = self.send(other, path, {}, self.next_key())
        assert (reply.status, reply.code) == (404, "not_found"), reply.body
        read = self.callers[other].get(f"/v1/transactions/{original.transaction_id}")
        assert (read.status, read.code) == (404, "not_found"), read.body

    # holds

    @rule(
        targets=(holds, answered),
        partner=st.sampled_from(PARTNERS),
        member=st.sampled_from(MEMBERS),
        points=st.integers(1, 300),
    )
    def hold(self, partner: str, member: str, points: int) -> Any:
        return self._hold(partner, member, points)

    @rule(
        targets=(reversible, answered),
        partner=st.sampled_from(PARTNERS),
        member=st.sampled_from(MEMBERS),
        points=st.integers(1, 300),
        captured=st.none() | st.integers(1, 320),
        timing=st.none() | st.sampled_from((-1, 0, 1)),
    )
    def a_hold_then_its_capture(
        self, partner: str, member: str, points: int, captured: int | None, timing: int | None
    ) -> Any:
        """A hold captured, in full or in part, at once or about when it times out."""
        return self._capture(self._hold(partner, member, points), captured, True, timing)

    def _hold(self, partner: str, member: str, points: int) -> Answered:
        key = self.next_key()
        path = f"/v1/members/{member}/earn"
        body = {"points": points, "reference": key, "pending": True}
        reply = self.send(partner, path, body, key)
        assert reply.status == 201, reply.body
        account = member_account(partner, member)
        hold_id = reply.body["transaction"]["transaction_id"]
        assert hold_id == transaction_id_for(partner, key)
        void_after = self.now + timedelta(days=HOLD_TIMEOUT_DAYS[partner])
        assert (reply.body["transaction"]["type"], reply.body["transaction"]["status"]) == (
            "hold",
            "pending",
        )
        assert reply.body["transaction"]["expires_at"] == rfc3339(void_after)
        self.model.holds[hold_id] = Hold(partner, account, points, key, void_after)
        self.model.account(account).pending += points
        self.model.record(account, self.now, hold_id)
        assert reply.body["balance"] == self.balance(account)
        return Answered(partner, path, body, key, reply, hold_id, account, "hold")

    @rule(
        targets=(reversible, answered),
        held=holds,
        points=st.none() | st.integers(1, 320),
        within=st.booleans(),
        timing=st.none() | st.sampled_from((-1, 0, 1)),
    )
    def capture(self, held: Answered, points: int | None, within: bool, timing: int | None) -> Any:
        return self._capture(held, points, within, timing)

    def _capture(self, held: Answered, points: int | None, within: bool, timing: int | None) -> Any:
        hold = self.model.holds[held.transaction_id]
        self.wait_for(hold.void_after, timing)
        if points is not None and within:
            points = 1 + (points - 1) % hold.points
        key = self.next_key()
        path = f"/v1/transactions/{held.transaction_id}/capture"
        body: dict[str, Any] = {} if points is None else {"points": points}
        wanted = hold.points if points is None else points
        reply = self.send(held.partner, path, body, key)
        # A hold resolves once, not at or after its timeout, and never for more than it holds.
        if hold.status != "open" or self.now >= hold.void_after or wanted > hold.points:
            assert (reply.status, reply.code) == (409, "conflict"), reply.body
            event(f"capture: refused, hold {hold.status}")
            return multiple()
        event("capture: in full" if wanted == hold.points else "capture: in part")
        assert reply.status == 201, reply.body
        capture = reply.body["transaction"]
        capture_id = capture["transaction_id"]
        assert capture_id == transaction_id_for(held.partner, key)
        assert (capture["type"], capture["points"], capture["hold_id"]) == (
            "capture",
            wanted,
            held.transaction_id,
        )
        released = hold.points - wanted
        program = PROGRAM[held.partner]
        released_to_program = [
            posting["points"]
            for posting in capture["postings"]
            if posting["account"] == f"program:{program}:issued"
        ]
        assert released_to_program == ([released] if released else []), capture["postings"]
        self.model.account(hold.account).pending -= hold.points
        self.model.own_lot[capture_id] = self.model.credit(hold.account, wanted, self.now)
        self.model.record(hold.account, self.now, capture_id)
        self.model.remaining[capture_id] = wanted
        hold.status, hold.captured, hold.resolved_by = "captured", wanted, capture_id
        assert reply.body["balance"] == self.balance(hold.account)
        return Answered(held.partner, path, body, key, reply, capture_id, hold.account, "capture")

    @rule(target=answered, held=holds, reason=st.none() | st.just("cancelled booking"))
    def void(self, held: Answered, reason: str | None) -> Any:
        hold = self.model.holds[held.transaction_id]
        key = self.next_key()
        path = f"/v1/transactions/{held.transaction_id}/void"
        body: dict[str, Any] = {} if reason is None else {"reason": reason}
        reply = self.send(held.partner, path, body, key)
        # A partner may void its own hold past the timeout, as long as the sweep has not.
        if hold.status != "open":
            assert (reply.status, reply.code) == (409, "conflict"), reply.body
            event(f"void: refused, hold {hold.status}")
            return multiple()
        event("void: after the timeout" if self.now >= hold.void_after else "void: in time")
        assert reply.status == 201, reply.body
        void_id = reply.body["transaction"]["transaction_id"]
        assert void_id == transaction_id_for(held.partner, key)
        assert (reply.body["transaction"]["type"], reply.body["transaction"]["points"]) == (
            "void",
            hold.points,
        )
        self.model.account(hold.account).pending -= hold.points
        self.model.record(hold.account, self.now, void_id)
        hold.status, hold.captured, hold.resolved_by = "voided", 0, void_id
        assert reply.body["balance"] == self.balance(hold.account)
        return Answered(held.partner, path, body, key, reply, void_id, hold.account, "void")

    # links, quotes and exchanges

    @initialize(
        target=links,
        partner=st.sampled_from(PARTNERS),
        member=st.sampled_from(MEMBERS),
        other_member=st.sampled_from(MEMBERS),
    )
    def a_first_link(self, partner: str, member: str, other_member: str) -> Any:
        """Every run starts with two linked members with points to exchange, earned on either
        side of a month's end (for STAR, in two lots)."""
        linked = self._link(partner, member, other_member)
        for side, account in linked.accounts.items():
            self._earn(side, account.split(":", 2)[2], 40)
        self.clock.at(self.now + timedelta(hours=3))
        for side, account in linked.accounts.items():
            self._earn(side, account.split(":", 2)[2], 40)
        return linked

    @rule(
        target=links,
        partner=st.sampled_from(PARTNERS),
        member=st.sampled_from(MEMBERS),
        other_member=st.sampled_from(MEMBERS),
    )
    def link_members(self, partner: str, member: str, other_member: str) -> Any:
        return self._link(partner, member, other_member)

    def _link(self, partner: str, member: str, other_member: str) -> Any:
        other = OTHER[partner]
        account = member_account(partner, member)
        other_account = member_account(other, other_member)
        key = self.next_key()
        body = {
            "member_id": member,
            "partner_program": PROGRAM[other],
            "partner_member_id": other_member,
        }
        proposed = self.send(partner, "/v1/links", body, key)
        # A member has at most one active link to each other program.
        if (account, PROGRAM[other]) in self.model.links:
            assert (proposed.status, proposed.code) == (409, "conflict"), proposed.body
            event("link: proposal refused")
            return multiple()
        assert proposed.status == 201, proposed.body
        assert proposed.body["status"] == "pending"
        link_id = proposed.body["link_id"]
        proposal = Answered(partner, "/v1/links", body, key, proposed, link_id, account, "link")
        confirm_key = self.next_key()
        confirm_path = f"/v1/links/{link_id}/confirm"
        confirmed = self.send(other, confirm_path, {}, confirm_key)
        if (other_account, PROGRAM[partner]) in self.model.links:
            assert (confirmed.status, confirmed.code) == (409, "conflict"), confirmed.body
            event("link: confirmation refused")
            return multiple()
        event("link: active")
        assert confirmed.status == 201, confirmed.body
        assert confirmed.body["status"] == "active"
        confirmation = Answered(
            other, confirm_path, {}, confirm_key, confirmed, link_id, other_account, "confirm"
        )
        linked = Linked(link_id, {partner: account, other: other_account}, proposal, confirmation)
        self.model.links[(account, PROGRAM[other])] = linked
        self.model.links[(other_account, PROGRAM[partner])] = linked
        return linked

    @rule(link=links, partner=st.sampled_from(PARTNERS))
    def revoke_link(self, link: Linked, partner: str) -> None:
        reply = self.callers[partner].call("DELETE", f"/v1/links/{link.link_id}")
        assert (reply.status, reply.body["status"]) == (200, "revoked"), reply.body
        # Revoking a link revoked before changes nothing, whatever links came after it.
        for side, account in link.accounts.items():
            key = (account, PROGRAM[OTHER[side]])
            if key in self.model.links and self.model.links[key].link_id == link.link_id:
                del self.model.links[key]

    @rule(
        targets=(quotes, answered),
        link=links,
        partner=st.sampled_from(PARTNERS),
        outward=st.booleans(),
        points=st.integers(1, 300),
        affordable=st.booleans(),
    )
    def quote(
        self, link: Linked, partner: str, outward: bool, points: int, affordable: bool
    ) -> Any:
        """A quote for a member of a link: still linked, or not since the link was revoked."""
        member = link.accounts[partner].split(":", 2)[2]
        return self._quote(partner, member, outward, points, affordable) or multiple()

    @rule(
        target=exchanges,
        link=links,
        partner=st.sampled_from(PARTNERS),
        outward=st.booleans(),
        points=st.integers(1, 300),
    )
    def exchange_at_a_fresh_quote(
        self, link: Linked, partner: str, outward: bool, points: int
    ) -> Any:
        """A member exchanges points at once, from the side that has some if one has."""
        member = link.accounts[partner].split(":", 2)[2]
        source = link.accounts[partner if outward else OTHER[partner]]
        if not self.model.available(source):
            outward = not outward
        quoted = self._quote(partner, member, outward, points, affordable=True)
        return self._exchange(quoted) if quoted else multiple()

    @rule(target=exchanges, quoted=quotes, timing=st.none() | st.sampled_from((-1, 0, 1)))
    def exchange(self, quoted: Answered, timing: int | None) -> Any:
        self.wait_for(self.model.quotes[quoted.transaction_id].expires_at, timing)
        return self._exchange(quoted)

    def _quote(
        self, partner: str, member: str, outward: bool, points: int, affordable: bool
    ) -> Answered | None:
        own = member_account(partner, member)
        own_program, other_program = PROGRAM[partner], PROGRAM[OTHER[partner]]
        linked = self.model.links.get((own, other_program))
        other = linked.accounts[OTHER[partner]] if linked else None
        source, destination = (own, other) if outward else (other, own)
        from_program, to_program = (
            (own_program, other_program) if outward else (other_program, own_program)
        )
        if affordable and source and self.model.available(source):
            points = 1 + (points - 1) % self.model.available(source)
        key = self.next_key()
        body = {
            "member_id": member,
            "from_program": from_program,
            "to_program": to_program,
            "points": points,
        }
        reply = self.send(partner, "/v1/quotes", body, key)
        if linked is None or source is None or destination is None:
            assert (reply.status, reply.code) == (422, "not_linked"), reply.body
            event("quote: not linked")
            return None
        rate = self.model.rate(from_program, to_program, self.now)
        points_in = math.floor(Fraction(rate) * points)  # the network keeps the fraction
        if points_in < 1:
            assert (reply.status, reply.code) == (422, "validation_error"), reply.body
            event("quote: too few points")
            return None
        if self.model.available(source) < points:
            assert (reply.status, reply.code) == (409, "insufficient_points"), reply.body
            event("quote: insufficient points")
            return None
        event(f"quote: at {rate}")
        assert reply.status == 201, reply.body
        expires_at = self.now + QUOTE_TTL
        assert Fraction(reply.body["rate"]) == Fraction(rate), reply.body
        assert (
            reply.body["points_out"],
            reply.body["points_in"],
            reply.body["expires_at"],
        ) == (points, points_in, rfc3339(expires_at))
        quote_id = reply.body["quote_id"]
        self.model.quotes[quote_id] = Quote(
            partner, quote_id, source, destination, points, points_in, expires_at, linked.link_id
        )
        return Answered(partner, "/v1/quotes", body, key, reply, quote_id, own, "quote")

    def _exchange(self, quoted: Answered) -> Any:
        quote = self.model.quotes[quoted.transaction_id]
        key = self.next_key()
        body = {"quote_id": quote.quote_id}
        reply = self.send(quote.partner, "/v1/exchanges", body, key)
        if quote.used:
            assert (reply.status, reply.code) == (409, "conflict"), reply.body
            event("exchange: quote used")
            return multiple()
        if self.now >= quote.expires_at:
            assert (reply.status, reply.code) == (410, "quote_expired"), reply.body
            event("exchange: quote expired")
            return multiple()
        if self.model.available(quote.source) < quote.points_out:
            assert (reply.status, reply.code) == (409, "insufficient_points"), reply.body
            event("exchange: insufficient points")
            return multiple()
        if not any(linked.link_id == quote.link_id for linked in self.model.links.values()):
            assert (reply.status, reply.code) == (422, "not_linked"), reply.body
            event("exchange: link revoked")
            return multiple()
        event(f"exchange: {PROGRAM[quote.source.split(':')[1]]} posted")
        assert reply.status == 201, reply.body
        assert (reply.body["points_out"], reply.body["points_in"]) == (
            quote.points_out,
            quote.points_in,
        )
        debit_id = reply.body["debit"]["transaction_id"]
        credit_id = reply.body["credit"]["transaction_id"]
        assert debit_id == transaction_id_for(quote.partner, key)
        assert (reply.body["debit"]["points"], reply.body["credit"]["points"]) == (
            quote.points_out,
            quote.points_in,
        )
        quote.used = True
        self.model.debit(quote.source, quote.points_out)
        self.model.credit(quote.destination, quote.points_in, self.now)
        self.model.record(quote.source, self.now, debit_id)
        self.model.record(quote.destination, self.now, credit_id)
        balances = reply.body["balances"]
        assert balances["from"] == self.balance(quote.source), balances
        assert balances["to"] == self.balance(quote.destination), balances
        path = "/v1/exchanges"
        return Answered(quote.partner, path, body, key, reply, debit_id, quote.source, "exchange")

    # time and the sweeps

    @rule(
        seconds=st.one_of(
            st.integers(1, 90),
            st.integers(1, 72).map(lambda hours: hours * 3600),
            st.integers(1, 40).map(lambda days: days * 86400),
        )
    )
    def time_passes(self, seconds: int) -> None:
        self.clock.at(self.now + timedelta(seconds=seconds))

    @precondition(lambda self: bool(self.model.deadlines(self.now)))
    @rule(offset=st.sampled_from((-1, 0, 1)), data=st.data())
    def time_reaches_a_deadline(self, offset: int, data: st.DataObject) -> None:
        """The clock stops just before a timeout, expiry or notice date: the next request
        lands a second before it, on it or a second after; a sweep runs up to on it."""
        deadline = data.draw(st.sampled_from(sorted(self.model.deadlines(self.now))))
        moment = deadline + timedelta(seconds=offset - 1)
        self.clock.at(max(moment, self.now))

    @rule(job=st.sampled_from(SweepJob))
    def sweep(self, job: SweepJob) -> None:
        report = self.sweeper.run(job, self.now)
        voided = expired = noticed = 0
        if job in (SweepJob.HOLDS, SweepJob.ALL):
            for hold in self.model.holds.values():
                if hold.status == "open" and hold.void_after <= self.now:
                    self.model.account(hold.account).pending -= hold.points
                    self.model.record(
                        hold.account, self.now, f"void:{hold.reference}:{hold.points}"
                    )
                    hold.status, hold.captured = "voided", 0
                    voided += 1
        if job in (SweepJob.POINTS, SweepJob.ALL):
            for account_id, account in self.model.accounts.items():
                for day, lot in sorted(account.lots.items()):
                    if midnight(day) <= self.now:
                        account.available -= lot.remaining
                        self.model.record(
                            account_id, self.now, f"expiry:lot:{day.isoformat()}:{lot.remaining}"
                        )
                        del account.lots[day]
                        expired += 1
                    elif (
                        lot.notice_at is not None and lot.notice_at <= self.now and not lot.noticed
                    ):
                        lot.noticed = True
                        noticed += 1
        assert (report.holds_voided, report.lots_expired, report.lots_noticed) == (
            voided,
            expired,
            noticed,
        ), report
        assert (report.failed, report.skipped, report.finished) == (0, 0, True), report
        for name, count in (("holds voided", voided), ("lots expired", expired)):
            if count:
                event(f"sweep: {name}")
        if noticed:
            event("sweep: lots noticed")

    @rule(on=st.booleans())
    def the_operator_switches_ride_expiry(self, on: bool) -> None:
        expiry = RIDE_EXPIRY if on else None
        policy = {"expiry": expiry.as_policy()} if expiry else {}
        set_policy("rideco", hold_timeout_days=HOLD_TIMEOUT_DAYS["rideco"], **policy)
        self.model.expiry["rideco"] = expiry
        self.policy_epoch += 1

    # idempotency

    @rule(
        request=st.one_of(
            answered,
            exchanges,
            links.map(lambda link: link.proposal),
            links.map(lambda link: link.confirmation),
        )
    )
    def a_replay_repeats_the_first_answer(self, request: Answered) -> None:
        self.replays(request)

    def replays(self, request: Answered) -> None:
        reply = self.send(request.partner, request.path, request.body, request.key)
        assert reply.status == request.reply.status
        assert reply.body == request.reply.body
        assert reply.headers.get(REPLAYED) == "true"

    # Link confirmations are left out: their body is empty, so there is no other body to send
    # (the same key for another link is refused; tests/integration/test_network.py shows it).
    @rule(
        request=st.one_of(answered, exchanges, links.map(lambda link: link.proposal)),
        change=st.sampled_from(("points", "member", "reference")),
        data=st.data(),
    )
    def a_reused_key_is_refused(self, request: Answered, change: str, data: st.DataObject) -> None:
        if request.kind == "exchange":
            self._reuse_an_exchange_key(request, data)
            return
        path, body = self.altered(request, change)
        reply = self.send(request.partner, path, body, request.key)
        assert (reply.status, reply.code) == (422, "idempotency_key_reused"), reply.body

    def _reuse_an_exchange_key(self, exchanged: Answered, data: st.DataObject) -> None:
        """An exchange's key for another quote of its partner: used, open or expired, the
        reuse is what is refused."""
        others = sorted(
            quote.quote_id
            for quote in self.model.quotes.values()
            if quote.partner == exchanged.partner and quote.quote_id != exchanged.body["quote_id"]
        )
        if not others:
            event("exchange key reused: no other quote, replayed")
            self.replays(exchanged)
            return
        event("exchange key reused: another quote")
        body = {"quote_id": data.draw(st.sampled_from(others))}
        reply = self.send(exchanged.partner, exchanged.path, body, exchanged.key)
        assert (reply.status, reply.code) == (422, "idempotency_key_reused"), reply.body

    def altered(self, request: Answered, change: str) -> tuple[str, dict[str, Any]]:
        """The same request with one thing changed, still a valid request of its kind."""
        body = dict(request.body)
        path = request.path
        if request.kind == "link":
            current = body["partner_member_id"]
            body["partner_member_id"] = next(m for m in MEMBERS if m != current)
        elif request.kind == "void":
            body["reason"] = str(body.get("reason")) + " (changed)"
        elif request.kind == "capture" or change == "points":
            body["points"] = int(body.get("points") or 0) + 1
        elif request.kind == "reversal":
            body["reason"] = "a different reason"
        elif change == "reference" and "reference" in body:
            body["reference"] = body["reference"] + "-other"
        elif request.kind == "quote":
            body["member_id"] = next(m for m in MEMBERS if m != body["member_id"])
        else:
            member = request.path.split("/")[3]
            other = next(candidate for candidate in MEMBERS if candidate != member)
            path = request.path.replace(f"/{member}/", f"/{other}/")
        return path, body

    # reads

    @rule(partner=st.sampled_from(PARTNERS), member=st.sampled_from(MEMBERS))
    def the_views_of_a_member_show_the_model(self, partner: str, member: str) -> None:
        """The member's balance, expiring points and links; its history; its holds."""
        self.the_member_view_shows_the_model(partner, member)
        self.the_history_lists_every_transaction_newest_first(partner, member)
        account = member_account(partner, member)
        for hold_id, hold in self.model.holds.items():
            if hold.account == account:
                self.a_hold_shows_what_became_of_it(hold_id, hold)

    def the_member_view_shows_the_model(self, partner: str, member: str) -> None:
        reply = self.callers[partner].get(f"/v1/members/{member}")
        account = member_account(partner, member)
        if account not in self.model.accounts:
            assert (reply.status, reply.code) == (404, "not_found"), reply.body
            return
        assert reply.status == 200, reply.body
        assert reply.body["balance"] == self.balance(account)
        lots = self.model.accounts[account].lots
        expiring = [(point["points"], point["expires_at"]) for point in reply.body["expiring"]]
        assert expiring == [(lots[day].remaining, rfc3339(midnight(day))) for day in sorted(lots)]
        linked = self.model.links.get((account, PROGRAM[OTHER[partner]]))
        links = [
            (link["link_id"], link["partner_id"], link["member_id"]) for link in reply.body["links"]
        ]
        expected = []
        if linked:
            other_account = linked.accounts[OTHER[partner]]
            expected = [(linked.link_id, OTHER[partner], other_account.split(":", 2)[2])]
        assert links == expected

    def the_history_lists_every_transaction_newest_first(self, partner: str, member: str) -> None:
        account = member_account(partner, member)
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 7} | ({"cursor": cursor} if cursor else {})
            page = self.callers[partner].get(f"/v1/members/{member}/transactions", **query)
            if account not in self.model.accounts:
                assert (page.status, page.code) == (404, "not_found"), page.body
                return
            assert page.status == 200, page.body
            items += page.body["items"]
            cursor = page.body.get("next_cursor")
            if not cursor:
                break
        order = [(item["created_at"], item["transaction_id"]) for item in items]
        assert order == sorted(order, reverse=True)
        seen = [(item["created_at"], what(item)) for item in items]
        assert sorted(seen) == sorted(self.model.accounts[account].history)

    def a_hold_shows_what_became_of_it(self, hold_id: str, hold: Hold) -> None:
        reply = self.callers[hold.partner].get(f"/v1/transactions/{hold_id}")
        assert reply.status == 200, reply.body
        assert (reply.body["type"], reply.body["status"]) == ("hold", "pending")
        detail = reply.body["hold"]
        assert (detail["status"], detail["points_held"], detail["void_after"]) == (
            hold.status,
            hold.points,
            rfc3339(hold.void_after),
        )
        assert detail.get("points_captured") == hold.captured
        if hold.status == "open" or hold.resolved_by is not None:
            assert detail.get("resolved_by") == hold.resolved_by
        else:
            assert detail.get("resolved_by"), detail  # the network's own void

    # after every step

    @invariant()
    def the_ledger_checks_out_and_matches_the_model(self) -> None:
        items = list(LedgerStore(self.table).scan(lots_and_holds=True))
        check = check_ledger(items, lots_and_holds=True)
        assert check.ok, describe(check)
        balances = {
            item.account: (item.available, item.pending)
            for item in items
            if isinstance(item, StoredBalance)
        }
        assert all(available >= 0 and pending >= 0 for available, pending in balances.values())
        assert balances == {
            account_id: (account.available, account.pending)
            for account_id, account in self.model.accounts.items()
        }
        lots = {
            (item.account, date.fromisoformat(item.lot_id)): (item.remaining, item.noticed)
            for item in items
            if isinstance(item, StoredLot)
        }
        assert lots == {
            (account_id, day): (lot.remaining, lot.noticed)
            for account_id, account in self.model.accounts.items()
            for day, lot in account.lots.items()
        }
        holds = {
            item.hold_id: (item.status.value, item.points_captured)
            for item in items
            if isinstance(item, HoldState)
        }
        assert holds == {
            hold_id: (hold.status, hold.captured) for hold_id, hold in self.model.holds.items()
        }


def what(item: dict[str, Any]) -> str:
    """How the model names a transaction: its id, or for the network's own what it did."""
    if item["initiated_by"] == NETWORK:
        return f"{item['type']}:{item['reference']}:{item['points']}"
    return str(item["transaction_id"])


def describe(check: LedgerCheck) -> str:
    return (
        f"unbalanced={check.unbalanced_transactions} mismatched={check.mismatched_accounts} "
        f"negative={check.negative_accounts} lots={check.mismatched_lots} "
        f"holds={check.mismatched_holds}"
    )


def publish_rates() -> None:
    rates = Rates(NetworkStore(LEDGER_TABLE, DIRECTORY_TABLE))
    for (from_program, to_program), history in RATES.items():
        for effective_from, rate in history:
            command = SetRate.model_validate({"rate": rate, "effective_from": effective_from})
            rates.set_rate(OPERATOR, from_program, to_program, command)


def run_machine(network: DemoNetwork, how: settings) -> None:
    # Given STAR points expiring by lot, both programs' hold timeouts, and the rates
    set_policy(
        "starlodge",
        expiry=STAR_EXPIRY.as_policy(),
        hold_timeout_days=HOLD_TIMEOUT_DAYS["starlodge"],
    )
    publish_rates()
    machine = type("BoundLedgerMachine", (LedgerMachine,), {"network": network})
    run_state_machine_as_test(machine, settings=how)


@pytest.mark.timeout(900)  # a failure may take minutes to shrink: let it print its example
def test_the_ledger_matches_its_model(network: DemoNetwork) -> None:
    # Given two partners with members; When random requests run and time passes;
    # Then the ledger matches a model
    run_machine(network, SHORT)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_ledger_matches_its_model_at_length(network: DemoNetwork) -> None:
    # Given two partners with members; When many more random requests run and time passes;
    # Then the ledger matches a model
    run_machine(network, LONG)
