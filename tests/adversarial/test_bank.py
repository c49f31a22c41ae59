"""A bank test in the spirit of Jepsen's: concurrent writers and readers over HTTP to the local
server, and every read checked against what the accepted operations imply.

Given the demo network, the operator publishes a rate each way between STAR and RIDE through the
admin API, and each starlodge member is linked to a rideco member (not the one with the same id:
member ids are scoped to their partner), one partner proposing and the other confirming; every
member opens with some points. Writers then issue random earns, burns and exchanges through the
partner SDK. An exchange is a quote, then its execution; either partner may ask for one for its own
member, in either direction. The points received are computed here from the published rate, rounded
down as the API documents, and the quote and the exchange must agree; a quote worth less than one
point must be refused. A request whose outcome stays unknown is retried with its Idempotency-Key
until it gets a definitive answer; an answer that is neither a success, a refusal the test expects,
nor an unknown outcome fails the test.

Readers meanwhile read one member, a partner's members, a linked pair, or every member of both
programs, one GET after another. Those GETs are not one snapshot: an exchange may post between two
of them, so a read may see one of its legs without the other. So each balance is judged on its own
(and each program's total over the read's whole span): it must lie between what had surely posted
before the read began and what could have posted before it ended, an operation still in flight
counting either way. The balances a write answers with are judged the same way, the write itself
counted as posted. No balance is ever negative.

At the end every balance equals exactly the sum of its accepted operations (an exchange debiting its
source and crediting its destination), the ledger holds the entries of the accepted operations and
no others (two per exchange), each program's exchange account holds the points given up from it less
those paid into it, and the ledger check of the emulator's table passes.
"""

from __future__ import annotations

import importlib.util
import random
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest

LOCAL_RUNTIME = importlib.util.find_spec("pointsnet.local.runtime") is not None
pytestmark = pytest.mark.skipif(
    not LOCAL_RUNTIME,
    reason="needs the local runtime (pointsnet.local.runtime); Powertools' resolver is not "
    "thread-safe, so concurrent requests must go to worker processes over HTTP",
)

Account = tuple[str, str]  # (partner_id, member_id): a member id is scoped to its partner

MEMBERS = ("bank-1", "bank-2", "bank-3")
PARTNERS = ("starlodge", "rideco")
PROGRAMS = {"starlodge": "STAR", "rideco": "RIDE"}
# Points of `to` per point of `from`; neither is a whole number, so rounding down matters.
RATES = {("STAR", "RIDE"): Decimal("0.35"), ("RIDE", "STAR"): Decimal("2.5")}
# starlodge's member, rideco's member: crosswise, so a credit to the same id would show.
LINKED_MEMBERS = (("bank-1", "bank-2"), ("bank-2", "bank-3"), ("bank-3", "bank-1"))
LINKED: dict[Account, Account] = {
    **{("starlodge", star): ("rideco", ride) for star, ride in LINKED_MEMBERS},
    **{("rideco", ride): ("starlodge", star) for star, ride in LINKED_MEMBERS},
}
ACCOUNTS: tuple[Account, ...] = tuple(
    (partner, member) for partner in PARTNERS for member in MEMBERS
)

OPENING_POINTS = 100
EXCHANGE_SHARE = 0.3
EARN_SHARE = 0.4
# Answers after which the operation surely did not post.
WRITE_REFUSALS = frozenset({"insufficient_points", "conflict"})
EXCHANGE_REFUSALS = WRITE_REFUSALS | {"quote_expired"}
# Answers that leave the outcome unknown (besides any 5xx): retry with the same key.
UNKNOWN_OUTCOMES = frozenset({"connection_error", "rate_limited", "request_in_progress"})
RESOLVE_ATTEMPTS = 20


def received_points(rate: Decimal, points: int) -> int:
    """What an exchange of `points` gives at `rate`: rounded down, the network keeps the rest."""
    return int((rate * points).to_integral_value(rounding=ROUND_FLOOR))


@dataclass
class Operation:
    kind: str  # earn, burn or exchange
    effects: tuple[tuple[Account, int], ...]  # what it adds to each member's available points
    key: str
    invoked: float
    completed: float | None = None
    posted: bool | None = None  # None while the outcome is unknown
    entries: tuple[str, ...] = ()  # the transaction ids it answered with, once posted


@dataclass(frozen=True)
class Observation:
    account: Account
    started: float
    ended: float
    available: int


@dataclass(frozen=True)
class Read:
    """Balances seen one after another, or (`written_by`) answered by that write."""

    observations: tuple[Observation, ...]
    written_by: str | None = None  # the key of the write whose answer this is

    @property
    def started(self) -> float:
        return min(observation.started for observation in self.observations)

    @property
    def ended(self) -> float:
        return max(observation.ended for observation in self.observations)


@dataclass
class History:
    operations: list[Operation] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    answers: list[Read] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, item: Operation | Read) -> None:
        with self.lock:
            if isinstance(item, Operation):
                self.operations.append(item)
            elif item.written_by is None:
                self.reads.append(item)
            else:
                self.answers.append(item)

    def fail(self, failure: str) -> None:
        with self.lock:
            self.failures.append(failure)


def guarded(target: Callable[..., None], history: History) -> Callable[..., None]:
    """The thread's work, its exceptions kept for the test to report rather than lost."""

    def run(*args: Any) -> None:
        try:
            target(*args)
        except Exception:
            history.fail(traceback.format_exc())

    return run


def send_until_definitive(
    call: Callable[[], dict[str, Any]], refusals: Collection[str]
) -> tuple[dict[str, Any] | None, str | None] | None:
    """Send until the answer is a success `(body, None)` or a refusal `(None, code)`.

    `call` sends the same request with the same Idempotency-Key each time. None: the outcome
    stayed unknown. Any other error is not an outcome the test allows, and is raised.
    """
    from pointsnet.client import PointsNetError

    for _ in range(RESOLVE_ATTEMPTS):
        try:
            return call(), None
        except PointsNetError as error:
            if error.code in refusals:
                return None, error.code
            if error.status < 500 and error.code not in UNKNOWN_OUTCOMES:
                raise
            time.sleep(0.05)
    return None


def earn_or_burn(client: Any, partner: str, member: str, delta: int, history: History) -> None:
    kind = "earn" if delta > 0 else "burn"
    key = f"bank-{uuid.uuid4()}"
    operation = Operation(kind, (((partner, member), delta),), key, time.monotonic())
    history.record(operation)
    answer = send_until_definitive(
        lambda: getattr(client, kind)(member, abs(delta), key, idempotency_key=key),
        WRITE_REFUSALS,
    )
    if answer is None:
        return
    body, _ = answer
    operation.completed, operation.posted = time.monotonic(), body is not None
    if body is None:
        return
    operation.entries = (body["transaction"]["transaction_id"],)
    available = int(body["balance"]["available"])
    seen = Observation((partner, member), operation.invoked, operation.completed, available)
    history.record(Read((seen,), written_by=key))


def terms(quote_or_exchange: dict[str, Any]) -> tuple[Decimal, int, int]:
    return (
        Decimal(quote_or_exchange["rate"]),
        quote_or_exchange["points_out"],
        quote_or_exchange["points_in"],
    )


def leg(transaction: dict[str, Any]) -> tuple[str, str, str, int]:
    """Whose points an exchange leg moves, in which program, and how many."""
    return (
        transaction["partner_id"],
        transaction["member_id"],
        transaction["program"],
        transaction["points"],
    )


def exchange(client: Any, partner: str, member: str, rng: random.Random, history: History) -> None:
    own = (partner, member)
    source, destination = (own, LINKED[own]) if rng.random() < 0.5 else (LINKED[own], own)
    from_program, to_program = PROGRAMS[source[0]], PROGRAMS[destination[0]]
    rate = RATES[from_program, to_program]
    # Now and then too few points to buy one whole point (1 or 2 STAR): the quote must say so.
    points = rng.randint(1, 3) if rng.random() < 0.15 else rng.randint(4, 120)
    points_in = received_points(rate, points)

    quote_key = f"bank-quote-{uuid.uuid4()}"
    quoted = send_until_definitive(
        lambda: client.create_quote(
            member, from_program, to_program, points, idempotency_key=quote_key
        ),
        {"validation_error", "insufficient_points"},
    )
    assert quoted is not None, f"quote {quote_key} never got a definitive answer"
    quote, refusal = quoted
    if refusal == "insufficient_points":
        # Short of points when quoted (a quote is priced, then the balance read): the
        # balance checks judge every balance; a point's worth was there to refuse.
        assert points_in >= 1, (points, from_program, refusal)
        return
    if quote is None:
        assert points_in < 1, f"{points} {from_program} buy {points_in} {to_program}: {refusal}"
        return
    assert points_in >= 1, (points, from_program, quote)
    assert terms(quote) == (rate, points, points_in), quote

    key = f"bank-{uuid.uuid4()}"
    operation = Operation(
        "exchange", ((source, -points), (destination, points_in)), key, time.monotonic()
    )
    history.record(operation)
    answer = send_until_definitive(
        lambda: client.exchange(quote["quote_id"], idempotency_key=key), EXCHANGE_REFUSALS
    )
    if answer is None:
        return
    body, _ = answer
    operation.completed, operation.posted = time.monotonic(), body is not None
    if body is None:
        return
    debit, credit = body["debit"], body["credit"]
    assert terms(body) == (rate, points, points_in), body
    assert leg(debit) == (*source, from_program, points), debit
    assert leg(credit) == (*destination, to_program, points_in), credit
    operation.entries = (debit["transaction_id"], credit["transaction_id"])
    balances = body["balances"]
    history.record(
        Read(
            tuple(
                Observation(
                    account, operation.invoked, operation.completed, int(balance["available"])
                )
                for account, balance in ((source, balances["from"]), (destination, balances["to"]))
            ),
            written_by=key,
        )
    )


def writer(clients: dict[str, Any], history: History, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        partner, member = rng.choice(PARTNERS), rng.choice(MEMBERS)
        roll = rng.random()
        if roll < EXCHANGE_SHARE:
            exchange(clients[partner], partner, member, rng, history)
        else:
            delta = (
                rng.randint(1, 100) if roll < EXCHANGE_SHARE + EARN_SHARE else -rng.randint(1, 150)
            )
            earn_or_burn(clients[partner], partner, member, delta, history)


def reader(clients: dict[str, Any], history: History, stop: threading.Event, seed: int) -> None:
    from pointsnet.client import PointsNetError

    rng = random.Random(seed)
    while not stop.is_set():
        own: Account = (rng.choice(PARTNERS), rng.choice(MEMBERS))
        accounts = rng.choice(
            [
                [own],
                [account for account in ACCOUNTS if account[0] == own[0]],
                [own, LINKED[own]],
                list(ACCOUNTS),
            ]
        )
        rng.shuffle(accounts)
        observations = []
        try:
            for partner, member in accounts:
                started = time.monotonic()
                available = _available(clients[partner], member)
                observations.append(
                    Observation((partner, member), started, time.monotonic(), available)
                )
        except PointsNetError as error:
            if error.code in UNKNOWN_OUTCOMES:
                continue
            raise
        history.record(Read(tuple(observations)))


def _available(client: Any, member: str) -> int:
    from pointsnet.client import PointsNetError

    try:
        return int(client.get_member(member)["balance"]["available"])
    except PointsNetError as error:
        if error.code == "not_found":
            return 0
        raise


Effects = dict[Account, list[tuple[Operation, int]]]


def posted_effects(operations: Iterable[Operation]) -> Effects:
    """What each posted operation adds to each account, by account."""
    effects: Effects = defaultdict(list)
    for operation in operations:
        if operation.posted:
            for account, delta in operation.effects:
                effects[account].append((operation, delta))
    return effects


def bounds(
    accounts: Iterable[Account],
    started: float,
    ended: float,
    effects: Effects,
    written_by: str | None = None,
) -> tuple[int, int]:
    """The least and most the accounts' total, seen between `started` and `ended`, can be."""
    surely = lowest = highest = 0
    for account in accounts:
        for operation, delta in effects.get(account, ()):
            if operation.invoked >= ended:
                continue
            assert operation.completed is not None
            if operation.completed < started or operation.key == written_by:
                surely += delta
            elif delta > 0:
                highest += delta
            else:
                lowest += delta
    return surely + lowest, surely + highest


def check_read(read: Read, effects: Effects) -> None:
    """Each balance within its own GET's bounds, and each program's total within the read's."""
    for seen in read.observations:
        assert seen.available >= 0, read
        least, most = bounds([seen.account], seen.started, seen.ended, effects, read.written_by)
        assert least <= seen.available <= most, (seen, least, most, read.written_by)
    for program in {PROGRAMS[seen.account[0]] for seen in read.observations}:
        seen_in = [seen for seen in read.observations if PROGRAMS[seen.account[0]] == program]
        total = sum(seen.available for seen in seen_in)
        accounts = {seen.account for seen in seen_in}
        least, most = bounds(accounts, read.started, read.ended, effects, read.written_by)
        assert least <= total <= most, (program, total, least, most, read)


def run_bank(seconds: float, writers: int, readers: int, workers: int) -> None:
    from pointsnet.client import PointsNetClient
    from pointsnet.ledger.accounts import exchange_account
    from pointsnet.ledger.check import check_ledger
    from pointsnet.ledger.port import StoredEntry
    from pointsnet.local.emulator import aws_client
    from pointsnet.local.runtime import local_network
    from pointsnet.store.ledger_store import LedgerStore

    with local_network(port=0, workers=workers) as network:

        def client(partner: str, role: str = "partner") -> PointsNetClient:
            key = network.key(partner, role)
            return PointsNetClient(
                network.base_url, key["key_id"], key["secret"], backoff_base=0.02
            )

        def clients() -> dict[str, Any]:
            return {partner: client(partner) for partner in PARTNERS}

        # Given the demo network, the operator's rates between its two programs
        admin, partners = client("network", "admin"), clients()
        for (from_program, to_program), rate in RATES.items():
            admin.set_rate(from_program, to_program, rate)
            published = partners["starlodge"].get_rate(from_program, to_program)
            assert Decimal(published["rate"]) == rate, published
        # And each starlodge member linked to a rideco member, proposed by one side
        for number, (star, ride) in enumerate(LINKED_MEMBERS):
            if number % 2:
                link = partners["starlodge"].propose_link(star, "RIDE", ride)
                confirmer = partners["rideco"]
            else:
                link = partners["rideco"].propose_link(ride, "STAR", star)
                confirmer = partners["starlodge"]
            assert link["status"] == "pending", link
            assert confirmer.confirm_link(link["link_id"])["status"] == "active"

        # And members with some points
        history = History()
        for partner, member in ACCOUNTS:
            earn_or_burn(partners[partner], partner, member, OPENING_POINTS, history)
        stop = threading.Event()
        threads = [
            threading.Thread(target=guarded(writer, history), args=(clients(), history, stop, seed))
            for seed in range(writers)
        ] + [
            threading.Thread(
                target=guarded(reader, history), args=(clients(), history, stop, 1000 + seed)
            )
            for seed in range(readers)
        ]
        # When writers and readers run at once
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a client thread hung"
        assert not history.failures, "\n".join(history.failures)

        operations = history.operations
        unresolved = [operation for operation in operations if operation.posted is None]
        assert not unresolved, f"{len(unresolved)} operations never got a definitive answer"
        posted = [operation for operation in operations if operation.posted]
        exchanges = [operation for operation in posted if operation.kind == "exchange"]
        assert exchanges, "no exchange posted"
        assert len(exchanges) < len(posted), "no earn or burn posted"
        assert history.reads, "no read completed"
        assert any(len(read.observations) == len(ACCOUNTS) for read in history.reads)

        # Then every read, and every write's answer, saw balances between what surely and
        # what possibly had posted, and none below zero
        effects = posted_effects(operations)
        for read in history.reads + history.answers:
            check_read(read, effects)

        # And at the end each balance, so each program's total, is exactly what the accepted
        # operations imply
        final = clients()
        balances = {account: _available(final[account[0]], account[1]) for account in ACCOUNTS}
        expected = {account: sum(delta for _, delta in effects[account]) for account in ACCOUNTS}
        totals = {
            program: (
                sum(balances[account] for account in ACCOUNTS if account[0] == partner),
                sum(expected[account] for account in ACCOUNTS if account[0] == partner),
            )
            for partner, program in PROGRAMS.items()
        }
        assert balances == expected, totals

        # And the ledger holds the entries of the accepted operations and no others, and
        # checks out
        environment = network.environments["PartnerApiFunction"]
        store = LedgerStore(environment["LEDGER_TABLE"], client=aws_client("dynamodb", environment))
        items = list(store.scan())
        check = check_ledger(items)
        assert check.ok, (
            check.mismatched_accounts,
            check.unbalanced_transactions,
            check.negative_accounts,
        )
        entries = [item.transaction for item in items if isinstance(item, StoredEntry)]
        accepted = [entry for operation in posted for entry in operation.entries]
        assert sorted(entry.transaction_id for entry in entries) == sorted(accepted)
        assert check.transactions == len(posted) + len(exchanges), check.transactions

        # And each program's exchange account holds the points given up from that program, less
        # those paid into it
        for program in PROGRAMS.values():
            kept = sum(
                posting.points
                for entry in entries
                for posting in entry.postings
                if posting.account == exchange_account(program)
            )
            given = sum(
                delta
                for operation in exchanges
                for account, delta in operation.effects
                if PROGRAMS[account[0]] == program
            )
            assert kept == -given, (program, kept, given)


def test_concurrent_earns_burns_exchanges_and_reads_are_consistent() -> None:
    # Given the local network with rates set and linked members holding points
    # When 5 writers earn, burn and exchange while 3 readers read, for 8 seconds
    # Then every read and the final balances and ledger agree with what was accepted
    run_bank(seconds=8, writers=5, readers=3, workers=3)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_concurrent_earns_burns_exchanges_and_reads_are_consistent_at_length() -> None:
    # Given the local network with rates set and linked members holding points
    # When 12 writers earn, burn and exchange while 4 readers read, for 90 seconds
    # Then every read and the final balances and ledger agree with what was accepted
    run_bank(seconds=90, writers=12, readers=4, workers=4)
