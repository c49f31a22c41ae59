"""A bank test in the spirit of Jepsen's: concurrent writers and readers over HTTP to the local
server, and every read checked against what the accepted operations imply.

Writers issue random earns and burns for the members of both demo partners, through the
partner SDK (which retries with the same Idempotency-Key); a request whose outcome stays
unknown is retried with its key until it gets a definitive answer. Readers read one member,
or sweep all of a partner's members, meanwhile. Afterwards, each read is checked against the
operations' history: the total it saw lies between what had surely posted before it began
and what could have posted before it ended, and no balance is ever negative. At the end
every balance equals the sum of its accepted operations exactly, and the ledger check of the
emulator's table passes.

Exchanges (now in the API) are the next writer to add: a read's total then spans programs,
and an exchange's two legs must appear together, never one without the other.
"""

from __future__ import annotations

import importlib.util
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

LOCAL_RUNTIME = importlib.util.find_spec("pointsnet.local.runtime") is not None
pytestmark = pytest.mark.skipif(
    not LOCAL_RUNTIME,
    reason="needs the local runtime (pointsnet.local.runtime); Powertools' resolver is not "
    "thread-safe, so concurrent requests must go to worker processes over HTTP",
)

MEMBERS = ("bank-1", "bank-2", "bank-3")
PARTNERS = ("starlodge", "rideco")
DEFINITIVE_REFUSALS = {"insufficient_points", "conflict"}
RESOLVE_ATTEMPTS = 20


@dataclass
class Operation:
    partner: str
    member: str
    delta: int  # + for an earn, - for a burn
    key: str
    invoked: float
    completed: float | None = None
    posted: bool | None = None  # None while the outcome is unknown


@dataclass(frozen=True)
class Read:
    partner: str
    members: tuple[str, ...]
    started: float
    ended: float
    balances: tuple[int, ...]


@dataclass
class History:
    operations: list[Operation]
    reads: list[Read]
    lock: threading.Lock

    def record(self, item: Operation | Read) -> None:
        with self.lock:
            if isinstance(item, Read):
                self.reads.append(item)
            else:
                self.operations.append(item)


def post_until_definitive(client: Any, operation: Operation) -> None:
    """Send the operation with its key until the answer is a success or a definitive refusal."""
    from pointsnet.client import PointsNetError

    path = "earn" if operation.delta > 0 else "burn"
    for _ in range(RESOLVE_ATTEMPTS):
        try:
            getattr(client, path)(
                operation.member,
                abs(operation.delta),
                f"bank-{operation.key}",
                idempotency_key=operation.key,
            )
        except PointsNetError as error:
            if error.code in DEFINITIVE_REFUSALS:
                operation.completed, operation.posted = time.monotonic(), False
                return
            time.sleep(0.05)  # 5xx, 429, request_in_progress, no connection: unknown, retry
        else:
            operation.completed, operation.posted = time.monotonic(), True
            return


def writer(clients: dict[str, Any], history: History, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        partner = rng.choice(PARTNERS)
        delta = rng.randint(1, 100) if rng.random() < 0.55 else -rng.randint(1, 150)
        operation = Operation(
            partner, rng.choice(MEMBERS), delta, f"bank-{uuid.uuid4()}", time.monotonic()
        )
        history.record(operation)
        post_until_definitive(clients[partner], operation)


def reader(clients: dict[str, Any], history: History, stop: threading.Event, seed: int) -> None:
    from pointsnet.client import PointsNetError

    rng = random.Random(seed)
    while not stop.is_set():
        partner = rng.choice(PARTNERS)
        members = MEMBERS if rng.random() < 0.5 else (rng.choice(MEMBERS),)
        started = time.monotonic()
        balances = []
        try:
            for member in members:
                balances.append(_available(clients[partner], member))
        except PointsNetError as error:
            assert error.status < 500 or error.code == "rate_limited", error
            continue
        history.record(Read(partner, members, started, time.monotonic(), tuple(balances)))


def _available(client: Any, member: str) -> int:
    from pointsnet.client import PointsNetError

    try:
        return int(client.get_member(member)["balance"]["available"])
    except PointsNetError as error:
        if error.code == "not_found":
            return 0
        raise


def bounds(read: Read, operations: list[Operation]) -> tuple[int, int]:
    """The least and most the read's total can be, given which operations had posted when."""
    surely = lowest = highest = 0
    for operation in operations:
        if operation.partner != read.partner or operation.member not in read.members:
            continue
        if not operation.posted or operation.invoked >= read.ended:
            continue
        assert operation.completed is not None
        if operation.completed < read.started:
            surely += operation.delta
        elif operation.delta > 0:
            highest += operation.delta
        else:
            lowest += operation.delta
    return surely + lowest, surely + highest


def run_bank(seconds: float, writers: int, readers: int, workers: int) -> None:
    from pointsnet.client import PointsNetClient
    from pointsnet.ledger.check import check_ledger
    from pointsnet.local.emulator import aws_client
    from pointsnet.local.runtime import local_network
    from pointsnet.store.ledger_store import LedgerStore

    with local_network(port=0, workers=workers) as network:

        def clients() -> dict[str, Any]:
            return {
                partner: PointsNetClient(
                    network.base_url,
                    network.key(partner)["key_id"],
                    network.key(partner)["secret"],
                    backoff_base=0.02,
                )
                for partner in PARTNERS
            }

        # Given the demo network and members with some points
        history = History([], [], threading.Lock())
        stop = threading.Event()
        threads = [
            threading.Thread(target=writer, args=(clients(), history, stop, seed))
            for seed in range(writers)
        ] + [
            threading.Thread(target=reader, args=(clients(), history, stop, 1000 + seed))
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

        operations = history.operations
        unresolved = [operation for operation in operations if operation.posted is None]
        assert not unresolved, f"{len(unresolved)} operations never got a definitive answer"
        posted = [operation for operation in operations if operation.posted]
        assert posted, "no operation posted"
        assert history.reads, "no read completed"

        # Then every read saw a total between what surely and what possibly had posted
        for read in history.reads:
            assert min(read.balances) >= 0, read
            least, most = bounds(read, operations)
            assert least <= sum(read.balances) <= most, (read, least, most)

        # And at the end each balance is exactly the sum of its accepted operations
        final = clients()
        for partner in PARTNERS:
            for member in MEMBERS:
                expected = sum(
                    operation.delta
                    for operation in posted
                    if (operation.partner, operation.member) == (partner, member)
                )
                assert _available(final[partner], member) == expected, (partner, member)

        # And the ledger holds one entry per accepted operation, and checks out
        environment = network.environments["PartnerApiFunction"]
        store = LedgerStore(environment["LEDGER_TABLE"], client=aws_client("dynamodb", environment))
        items = list(store.scan())
        check = check_ledger(items)
        assert check.ok, (check.mismatched_accounts, check.unbalanced_transactions)
        assert check.transactions == len(posted), (check.transactions, len(posted))


def test_concurrent_earns_burns_and_reads_are_consistent() -> None:
    run_bank(seconds=8, writers=6, readers=2, workers=3)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_concurrent_earns_burns_and_reads_are_consistent_at_length() -> None:
    run_bank(seconds=90, writers=12, readers=4, workers=4)
