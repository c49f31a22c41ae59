"""Crash injection: a request fails just before, or just after, each AWS call it makes, and the
partner retries with the same Idempotency-Key through a healthy function.

Whatever the point of failure, the outcome is exactly once: one entry for the request, the
balances of one posting, the ledger check passing, and a retry that answers as the first
success would have (replayed when the first attempt had in fact posted).

The failing client stands where boto3 raises on a lost connection: before the call nothing
reached DynamoDB; after it, DynamoDB did the work and the answer was lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from pointsnet.idempotency import transaction_id_for
from pointsnet.ledger.accounts import member_account
from pointsnet.partners.models import IssuedKey
from tests.adversarial.harness import (
    create_ledger_table,
    describe,
    drop_table,
    ledger_check,
    ledger_over,
    partner_caller,
    stored_balances,
    stored_entries,
)
from tests.helpers import DemoNetwork, Reply, SignedCaller

ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"
KEY = "retry-me-1"
ACCOUNT = member_account("starlodge", "guest-1")


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


@dataclass
class Operation:
    """A request under test: what comes before it, the request itself, and the balance after."""

    name: str
    prepare: Callable[[SignedCaller], dict[str, str]]
    send: Callable[[SignedCaller, dict[str, str]], Reply]
    balance_after: int
    earlier_entries: int
    reversed_points: tuple[str, int] | None = field(default=None)


def _earned(caller: SignedCaller, points: int) -> str:
    reply = caller.earn("guest-1", points, "stay-0")
    assert reply.status == 201, reply.body
    return str(reply.body["transaction"]["transaction_id"])


def _burned(caller: SignedCaller, points: int) -> str:
    reply = caller.burn("guest-1", points, "redeem-0")
    assert reply.status == 201, reply.body
    return str(reply.body["transaction"]["transaction_id"])


def _reversed(caller: SignedCaller, transaction_id: str, points: int) -> None:
    reply = caller.reverse(transaction_id, points=points)
    assert reply.status == 201, reply.body


def _prepare_burn_reversal(caller: SignedCaller) -> dict[str, str]:
    _earned(caller, 100)
    burn = _burned(caller, 50)
    _reversed(caller, burn, 20)  # the second reversal moves a reversal counter that exists
    return {"original": burn}


OPERATIONS = [
    Operation(
        "earn for a new member",
        prepare=lambda caller: {},
        send=lambda caller, _: caller.earn("guest-1", 100, "stay-1", idempotency_key=KEY),
        balance_after=100,
        earlier_entries=0,
    ),
    Operation(
        "earn for a returning member",
        prepare=lambda caller: {"original": _earned(caller, 100)},
        send=lambda caller, _: caller.earn("guest-1", 25, "stay-1", idempotency_key=KEY),
        balance_after=125,
        earlier_entries=1,
    ),
    Operation(
        "burn",
        prepare=lambda caller: {"original": _earned(caller, 100)},
        send=lambda caller, _: caller.burn("guest-1", 30, "redeem-1", idempotency_key=KEY),
        balance_after=70,
        earlier_entries=1,
    ),
    Operation(
        "full reversal of an earn",
        prepare=lambda caller: {"original": _earned(caller, 100)},
        send=lambda caller, state: caller.reverse(state["original"], idempotency_key=KEY),
        balance_after=0,
        earlier_entries=1,
        reversed_points=("original", 100),
    ),
    Operation(
        "partial reversal of an earn",
        prepare=lambda caller: {"original": _earned(caller, 100)},
        send=lambda caller, state: caller.reverse(
            state["original"], points=40, idempotency_key=KEY
        ),
        balance_after=60,
        earlier_entries=1,
        reversed_points=("original", 40),
    ),
    Operation(
        "second partial reversal of a burn",
        prepare=_prepare_burn_reversal,
        send=lambda caller, state: caller.reverse(
            state["original"], points=10, idempotency_key=KEY
        ),
        balance_after=80,
        earlier_entries=3,
        reversed_points=("original", 30),
    ),
]


@dataclass
class Rig:
    """A fresh ledger table, a healthy partner, and a partner whose client fails on cue."""

    table: str
    key: IssuedKey

    def caller(self, client: Any = None) -> SignedCaller:
        ledger = ledger_over(self.table, client)
        return partner_caller(lambda: ledger, self.key)


def calls_made(network: DemoNetwork, operation: Operation) -> list[str]:
    """The AWS calls the request makes when nothing fails."""
    rig = Rig(create_ledger_table("crash"), network.starlodge)
    try:
        state = operation.prepare(rig.caller())
        counting = FailingClient(boto3.client("dynamodb"))
        reply = operation.send(rig.caller(counting), state)
        assert reply.status == 201, reply.body
        return counting.calls
    finally:
        drop_table(rig.table)


def assert_exactly_once(rig: Rig, operation: Operation, state: dict[str, str], where: str) -> None:
    healthy = rig.caller()
    posted_before_retry = transaction_id_for("starlodge", KEY) in stored_entries(rig.table)
    # When the partner retries with the same key
    retry = operation.send(healthy, state)
    # Then it succeeds, as a replay exactly when the crashed attempt had posted
    assert retry.status == 201, f"{where}: {retry.body}"
    replayed = retry.headers.get("Idempotent-Replayed") == "true"
    assert replayed == posted_before_retry, where
    again = operation.send(healthy, state)
    assert (again.status, again.body) == (201, retry.body), where
    assert again.headers.get("Idempotent-Replayed") == "true", where
    # And exactly one posting exists for the request, with the balances of one posting
    entries = stored_entries(rig.table)
    assert transaction_id_for("starlodge", KEY) in entries, where
    assert len(entries) == operation.earlier_entries + 1, f"{where}: {sorted(entries)}"
    assert stored_balances(rig.table) == {ACCOUNT: operation.balance_after}, where
    check = ledger_check(rig.table)
    assert check.ok, f"{where}: {describe(check)}"
    if operation.reversed_points:
        name, points = operation.reversed_points
        view = healthy.get(f"/v1/transactions/{state[name]}")
        assert view.body.get("points_reversed") == points, f"{where}: {view.body}"


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_a_crash_at_any_call_then_a_retry_posts_exactly_once(
    network: DemoNetwork, operation: Operation, phase: str
) -> None:
    calls = calls_made(network, operation)
    assert calls, "the request made no AWS call"
    for number, call in enumerate(calls):
        where = f"{operation.name}: failing {phase} call {number} ({call}) of {calls}"
        rig = Rig(create_ledger_table("crash"), network.starlodge)
        try:
            # Given the request's preconditions
            state = operation.prepare(rig.caller())
            # When the request fails at this call
            failing = FailingClient(boto3.client("dynamodb"), number, after=phase == "after")
            crashed = operation.send(rig.caller(failing), state)
            assert number < len(failing.calls), f"{where}: the call was never made"
            assert crashed.status == 500 and crashed.code == "internal_error", where
            assert "Traceback" not in str(crashed.body), where
            # Then a retry through a healthy function posts exactly once
            assert_exactly_once(rig, operation, state, where)
        finally:
            drop_table(rig.table)


def test_a_retry_after_a_lost_burn_replays_even_once_the_points_are_gone(
    network: DemoNetwork,
) -> None:
    rig = Rig(create_ledger_table("crash"), network.starlodge)
    try:
        # Given a member with 100 points whose burn of 60 posted but whose answer was lost
        healthy = rig.caller()
        _earned(healthy, 100)
        commit = calls_made(network, OPERATIONS[2]).index("transact_write_items")
        failing = FailingClient(boto3.client("dynamodb"), commit, after=True)
        lost = rig.caller(failing).burn("guest-1", 60, "redeem-1", idempotency_key=KEY)
        assert (lost.status, lost.code) == (500, "internal_error")
        # And the remaining 40 were burned meanwhile
        assert healthy.burn("guest-1", 40, "redeem-2").status == 201
        # When the lost burn is retried
        retry = healthy.burn("guest-1", 60, "redeem-1", idempotency_key=KEY)
        # Then it replays the first success rather than failing for want of points
        assert retry.status == 201, retry.body
        assert retry.headers.get("Idempotent-Replayed") == "true"
        assert retry.body["balance"]["available"] == 40
        assert stored_balances(rig.table) == {ACCOUNT: 0}
        assert ledger_check(rig.table).ok
    finally:
        drop_table(rig.table)
