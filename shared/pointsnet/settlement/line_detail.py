"""The obligations behind a settlement's lines: recorded by each check, read back by reports.

Each check of a journal shard's day records the obligations it summed into the lines as one
object in the reports bucket (gzipped JSON Lines, only for a shard's day with obligations):

    settlements/<period's settlement id>/runs/<run id>/obligations/<day>/<shard>.jsonl.gz

so the detail grows with the period in S3, never in the settlement's item or the run's
tallies (DynamoDB items of at most 400 KB). A report reads the run's objects back once and
keeps them whole beside them (`.../runs/<run id>/obligations.jsonl.gz`). An adjustment's
detail is what its run counted that no earlier frozen settlement of the period counted:
obligations are written once and never change, so each run's set holds the earlier ones'.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.errors import PointsNetError
from pointsnet.ledger.models import Obligation
from pointsnet.model import Model
from pointsnet.observability import logger
from pointsnet.settlement.models import Period, Settlement, settlement_id_for

if TYPE_CHECKING:
    from pointsnet.settlement.ports import ReportStore
    from pointsnet.settlement.run_state import ShardTally

DETAIL_CONTENT_TYPE = "application/gzip"
LineKey = tuple[str, str, str]


def obligation_id_for(transaction_id: str) -> str:
    """An obligation is recorded once, with the transaction that creates it: one names the
    other (`txn_x` owes through `obl_x`)."""
    return "obl_" + transaction_id.removeprefix("txn_")


class ObligationDetail(Model):
    """One obligation summed into a line: what it owes, at what price, and why."""

    model_config = ConfigDict(frozen=True)

    obligation_id: str
    transaction_id: str
    kind: str = Field(description="What made it: an earn, its reversal, an exchange...")
    created_at: UtcTime
    payer: str
    payee: str
    program: str
    points: int = Field(description="Points of `program` paid for; negative undoes")
    unit_price: Decimal = Field(description="Price per point, in `currency`")
    amount: Decimal = Field(description="`points` x `unit_price`, exact: a line rounds once")
    currency: str

    @classmethod
    def of(cls, obligation: Obligation) -> ObligationDetail:
        terms = obligation.terms
        return cls(
            obligation_id=obligation_id_for(obligation.transaction_id),
            transaction_id=obligation.transaction_id,
            kind=obligation.kind,
            created_at=obligation.created_at,
            payer=terms.payer,
            payee=terms.payee,
            program=terms.program,
            points=terms.points,
            unit_price=terms.unit_price,
            amount=terms.amount,
            currency=terms.currency,
        )

    @property
    def line(self) -> LineKey:
        return (self.payer, self.payee, self.program)


def run_prefix(period: Period, run_id: str) -> str:
    return f"settlements/{settlement_id_for(period)}/runs/{run_id}/"


def part_key(period: Period, run_id: str, day: date, shard: int) -> str:
    return f"{run_prefix(period, run_id)}obligations/{day.isoformat()}/{shard:04d}.jsonl.gz"


def whole_key(period: Period, run_id: str) -> str:
    return f"{run_prefix(period, run_id)}obligations.jsonl.gz"


def record_part(store: ReportStore, period: Period, run_id: str, tally: ShardTally) -> int:
    """Record the obligations a shard's day summed; how many. A failure is raised: the check
    is retried, since a settlement's detail cannot be rendered again from anything else."""
    if not tally.summed:
        return 0
    rows = sorted(
        (ObligationDetail.of(obligation) for obligation in tally.summed),
        key=lambda row: (row.created_at, row.transaction_id),
    )
    store.put(part_key(period, run_id, tally.day, tally.shard), encode(rows), DETAIL_CONTENT_TYPE)
    return len(rows)


def encode(rows: Iterable[ObligationDetail]) -> bytes:
    # mtime=0: the same rows are the same bytes, so a retried check writes an identical object.
    text = "".join(row.model_dump_json() + "\n" for row in rows)
    return gzip.compress(text.encode(), mtime=0)


def decode(body: bytes) -> list[ObligationDetail]:
    return [
        ObligationDetail.model_validate_json(line)
        for line in gzip.decompress(body).decode().splitlines()
        if line
    ]


class DetailStatus(StrEnum):
    RECORDED = "recorded"
    NOT_RECORDED = "not_recorded"  # a run from before obligations were recorded
    INCOMPLETE = "incomplete"  # objects missing, or not adding up to the lines


@dataclass(frozen=True)
class LineDetail:
    """A settlement's obligations by line (payer, payee, program), oldest first."""

    status: DetailStatus
    rows: dict[LineKey, list[ObligationDetail]] = field(default_factory=dict)

    @property
    def recorded(self) -> bool:
        return self.status == DetailStatus.RECORDED


def run_obligations(store: ReportStore, settlement: Settlement) -> list[ObligationDetail] | None:
    """Every obligation the settlement's run summed; None when its objects are not all there."""
    period, run_id, parts = settlement.period, settlement.run.run_id, settlement.run.detail_parts
    whole = store.get(whole_key(period, run_id))
    if whole is not None:
        return decode(whole)
    keys = sorted(store.keys(f"{run_prefix(period, run_id)}obligations/"))
    if len(keys) != parts:
        logger.warning(
            "obligation detail incomplete",
            extra={"run_id": run_id, "parts": parts, "found": len(keys)},
        )
        return None
    rows: list[ObligationDetail] = []
    for key in keys:
        body = store.get(key)
        if body is None:
            return None
        rows.extend(decode(body))
    try:
        store.put(whole_key(period, run_id), encode(rows), DETAIL_CONTENT_TYPE)
    except PointsNetError:
        # The objects stay: the next report reads them again.
        logger.exception("obligation detail not kept whole", extra={"run_id": run_id})
    return rows


def line_detail(
    store: ReportStore, settlement: Settlement, earlier: Sequence[Settlement] = ()
) -> LineDetail:
    """The settlement's obligations by line. `earlier`: for an adjustment, the period's frozen
    settlements before it (the one it adjusts, then its earlier adjustments)."""
    if settlement.run.detail_parts is None or any(
        item.run.detail_parts is None for item in earlier
    ):
        return LineDetail(DetailStatus.NOT_RECORDED)
    rows = run_obligations(store, settlement)
    if rows is None:
        return LineDetail(DetailStatus.INCOMPLETE)
    counted: set[str] = set()
    for item in earlier:
        before = run_obligations(store, item)
        if before is None:
            return LineDetail(DetailStatus.INCOMPLETE)
        counted.update(row.obligation_id for row in before)
    by_line: dict[LineKey, list[ObligationDetail]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: (row.created_at, row.transaction_id)):
        if row.obligation_id not in counted:
            by_line[row.line].append(row)
    if not adds_up(settlement, by_line):
        logger.warning(
            "obligation detail does not add up to the lines",
            extra={"settlement_id": settlement.settlement_id},
        )
        return LineDetail(DetailStatus.INCOMPLETE)
    return LineDetail(DetailStatus.RECORDED, dict(by_line))


def adds_up(settlement: Settlement, by_line: dict[LineKey, list[ObligationDetail]]) -> bool:
    """Each line is its obligations: as many, summing exactly to its exact amount."""
    lines = {(line.payer, line.payee, line.program): line for line in settlement.lines}
    if set(by_line) - set(lines):
        return False
    for key, line in lines.items():
        rows = by_line.get(key, [])
        if (
            len(rows) != line.obligations
            or sum((row.amount for row in rows), Decimal(0)) != line.exact_amount
            or sum(row.points for row in rows) != line.points
        ):
            return False
    return True
