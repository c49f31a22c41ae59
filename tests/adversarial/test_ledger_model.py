"""A stateful property test: random partner requests against a reference model of the ledger.

Hypothesis drives earns, burns, full and partial reversals, replays and reused idempotency
keys for a few members of two partners, through the partner API's routes on moto. After
every step the ledger check passes, no stored balance is negative, and every stored balance
equals the model's.

Exchanges, holds (capture, void) and expiries join as rules here as they settle: each is a
request whose expected answer and balance change the model can state, and `Model` gains
their state (pending points, lots with expiry dates, the other program's balances).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from pointsnet.idempotency import transaction_id_for
from pointsnet.ledger.accounts import member_account
from tests.adversarial.harness import (
    create_ledger_table,
    describe,
    drop_table,
    ledger_check,
    ledger_over,
    partner_caller,
    stored_balances,
)
from tests.helpers import DemoNetwork, Reply, SignedCaller

PARTNERS = ("starlodge", "rideco")
MEMBERS = ("m-1", "m-2", "m-3")
REPLAYED = "Idempotent-Replayed"

SHORT = settings(
    max_examples=20,
    stateful_step_count=30,
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
class Answered:
    """A request the ledger answered 201, what it answered (a replay must repeat it), and the
    transaction it posted."""

    partner: str
    path: str
    body: dict[str, Any]
    key: str
    reply: Reply
    transaction_id: str
    account: str
    kind: str  # earn, burn or reversal


@dataclass
class Model:
    """What the ledger must hold: balances of the accounts that exist, and what is reversible."""

    balances: dict[str, int] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)
    history: dict[str, list[str]] = field(default_factory=dict)

    def post(self, account: str, delta: int, transaction_id: str) -> None:
        self.balances[account] = self.balances.get(account, 0) + delta
        self.history.setdefault(account, []).append(transaction_id)


class LedgerMachine(RuleBasedStateMachine):
    network: DemoNetwork  # bound by the test that runs the machine

    reversible = Bundle("reversible")  # earns and burns
    reversals = Bundle("reversals")
    answered = Bundle("answered")  # all of them

    def __init__(self) -> None:
        super().__init__()
        self.table = create_ledger_table("model")
        ledger = ledger_over(self.table)
        self.callers: dict[str, SignedCaller] = {
            "starlodge": partner_caller(lambda: ledger, self.network.starlodge),
            "rideco": partner_caller(lambda: ledger, self.network.rideco),
        }
        self.model = Model()
        self.keys = 0

    def teardown(self) -> None:
        drop_table(self.table)

    # helpers

    def next_key(self) -> str:
        self.keys += 1
        return f"key-{self.keys}"

    def send(self, partner: str, path: str, body: dict[str, Any], key: str) -> Reply:
        return self.callers[partner].call("POST", path, body, idempotency_key=key)

    # earn and burn

    @rule(
        targets=(reversible, answered),
        partner=st.sampled_from(PARTNERS),
        member=st.sampled_from(MEMBERS),
        points=st.integers(1, 300),
    )
    def earn(self, partner: str, member: str, points: int) -> Any:
        key = self.next_key()
        path = f"/v1/members/{member}/earn"
        body = {"points": points, "reference": key}
        reply = self.send(partner, path, body, key)
        assert reply.status == 201, reply.body
        account = member_account(partner, member)
        transaction_id = reply.body["transaction"]["transaction_id"]
        assert transaction_id == transaction_id_for(partner, key)
        self.model.post(account, points, transaction_id)
        self.model.remaining[transaction_id] = points
        assert reply.body["balance"]["available"] == self.model.balances[account]
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

    def _burn(self, partner: str, member: str, points: int, affordable: bool) -> Any:
        key = self.next_key()
        path = f"/v1/members/{member}/burn"
        account = member_account(partner, member)
        available = self.model.balances.get(account, 0)
        if affordable and available:
            points = 1 + (points - 1) % available
        body = {"points": points, "reference": key}
        reply = self.send(partner, path, body, key)
        if points > available:
            assert (reply.status, reply.code) == (409, "insufficient_points"), reply.body
            return multiple()
        assert reply.status == 201, reply.body
        transaction_id = reply.body["transaction"]["transaction_id"]
        self.model.post(account, -points, transaction_id)
        self.model.remaining[transaction_id] = points
        assert reply.body["balance"]["available"] == self.model.balances[account]
        return Answered(partner, path, body, key, reply, transaction_id, account, "burn")

    # reversals

    @rule(
        targets=(reversals, answered),
        original=reversible,
        points=st.none() | st.integers(1, 320),
        within=st.booleans(),
    )
    def reverse(self, original: Answered, points: int | None, within: bool) -> Any:
        key = self.next_key()
        path = f"/v1/transactions/{original.transaction_id}/reverse"
        remaining = self.model.remaining[original.transaction_id]
        if points is not None and within and remaining:
            points = 1 + (points - 1) % remaining
        body: dict[str, Any] = {} if points is None else {"points": points}
        wanted = remaining if points is None else points
        delta = -wanted if original.kind == "earn" else wanted
        reply = self.send(original.partner, path, body, key)
        if remaining == 0 or wanted > remaining:
            assert (reply.status, reply.code) == (409, "conflict"), reply.body
            return multiple()
        if self.model.balances[original.account] + delta < 0:
            assert (reply.status, reply.code) == (409, "insufficient_points"), reply.body
            return multiple()
        assert reply.status == 201, reply.body
        assert reply.body["type"] == "reversal"
        assert reply.body["reverses"] == original.transaction_id
        assert reply.body["points"] == wanted
        self.model.post(original.account, delta, reply.body["transaction_id"])
        self.model.remaining[original.transaction_id] = remaining - wanted
        reversal_id = reply.body["transaction_id"]
        return Answered(
            original.partner, path, body, key, reply, reversal_id, original.account, "reversal"
        )

    @rule(reversal=reversals)
    def reversing_a_reversal_is_a_conflict(self, reversal: Answered) -> None:
        path = f"/v1/transactions/{reversal.transaction_id}/reverse"
        reply = self.send(reversal.partner, path, {}, self.next_key())
        assert (reply.status, reply.code) == (409, "conflict"), reply.body

    @rule(original=reversible)
    def another_partner_cannot_see_a_transaction(self, original: Answered) -> None:
        other = next(partner for partner in PARTNERS if partner != original.partner)
        path = f"/v1/transactions/{original.transaction_id}/reverse"
        reply = self.send(other, path, {}, self.next_key())
        assert (reply.status, reply.code) == (404, "not_found"), reply.body
        read = self.callers[other].get(f"/v1/transactions/{original.transaction_id}")
        assert (read.status, read.code) == (404, "not_found"), read.body

    # idempotency

    @rule(request=answered)
    def a_replay_repeats_the_first_answer(self, request: Answered) -> None:
        reply = self.send(request.partner, request.path, request.body, request.key)
        assert reply.status == request.reply.status
        assert reply.body == request.reply.body
        assert reply.headers.get(REPLAYED) == "true"

    @rule(request=answered, change=st.sampled_from(("points", "member", "reference")))
    def a_reused_key_is_refused(self, request: Answered, change: str) -> None:
        body = dict(request.body)
        path = request.path
        if change == "points":
            body["points"] = int(body.get("points") or 0) + 1
        elif change == "reference" and "reference" in body:
            body["reference"] = body["reference"] + "-other"
        elif request.path.startswith("/v1/members/"):
            member = request.path.split("/")[3]
            other = next(candidate for candidate in MEMBERS if candidate != member)
            path = request.path.replace(f"/{member}/", f"/{other}/")
        else:
            body["reason"] = "a different reason"
        reply = self.send(request.partner, path, body, request.key)
        assert (reply.status, reply.code) == (422, "idempotency_key_reused"), reply.body

    # reads

    @rule(partner=st.sampled_from(PARTNERS), member=st.sampled_from(MEMBERS))
    def the_member_view_shows_the_model_balance(self, partner: str, member: str) -> None:
        reply = self.callers[partner].get(f"/v1/members/{member}")
        account = member_account(partner, member)
        if account not in self.model.balances:
            assert (reply.status, reply.code) == (404, "not_found"), reply.body
            return
        assert reply.status == 200, reply.body
        assert reply.body["balance"]["available"] == self.model.balances[account]
        assert reply.body["balance"]["pending"] == 0

    @rule(partner=st.sampled_from(PARTNERS), member=st.sampled_from(MEMBERS))
    def the_history_lists_every_transaction_newest_first(self, partner: str, member: str) -> None:
        account = member_account(partner, member)
        seen: list[str] = []
        cursor = None
        while True:
            query = {"limit": 7} | ({"cursor": cursor} if cursor else {})
            page = self.callers[partner].get(f"/v1/members/{member}/transactions", **query)
            if account not in self.model.balances:
                assert (page.status, page.code) == (404, "not_found"), page.body
                return
            assert page.status == 200, page.body
            seen += [item["transaction_id"] for item in page.body["items"]]
            cursor = page.body.get("next_cursor")
            if not cursor:
                break
        assert seen == list(reversed(self.model.history[account]))

    # after every step

    @invariant()
    def the_ledger_checks_out(self) -> None:
        check = ledger_check(self.table)
        assert check.ok, describe(check)

    @invariant()
    def stored_balances_equal_the_model(self) -> None:
        balances = stored_balances(self.table)
        assert all(points >= 0 for points in balances.values()), balances
        assert balances == self.model.balances


def run_machine(network: DemoNetwork, how: settings) -> None:
    machine = type("BoundLedgerMachine", (LedgerMachine,), {"network": network})
    run_state_machine_as_test(machine, settings=how)


def test_the_ledger_matches_its_model(network: DemoNetwork) -> None:
    # Given two partners with members; When random requests run; Then the ledger matches a model
    run_machine(network, SHORT)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_ledger_matches_its_model_at_length(network: DemoNetwork) -> None:
    run_machine(network, LONG)
