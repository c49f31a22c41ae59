"""Batch earns: up to 100 earns in one request, each posted exactly once, each answered.

Each earn is the partner's `earn` for its member (in its own program or, through a link,
another's), made idempotent by its own `reference`: its transaction id derives from the
partner and the reference, so an earn sent again in a later batch (a retry of the refused
ones with the rest) replays instead of posting. The batch's Idempotency-Key replays the whole
first answer: a compact record of it (each earn's outcome) is kept 24 hours, and the same key
with another body is refused as any reused key is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from pydantic import Field, Strict, model_validator

from pointsnet.auth.caller import Caller
from pointsnet.clock import utc_now
from pointsnet.errors import IdempotencyKeyReused, PointsNetError, StoreUnavailable
from pointsnet.idempotency import IdempotentRequest, derived_id, request_fingerprint
from pointsnet.ledger.commands import MEMBER_ID_PATTERN, EarnCommand
from pointsnet.ledger.engine import PostingResult
from pointsnet.ledger.models import Balance, Transaction
from pointsnet.model import Model
from pointsnet.network.cross_partner import CrossPartnerLedger
from pointsnet.strict_json import COMMAND_CONFIG

MAX_EARNS = 100
KEPT = timedelta(hours=24)


class BatchEarn(EarnCommand):
    """One earn of a batch: an earn's body with the member it is for."""

    member_id: str = Field(pattern=MEMBER_ID_PATTERN, description="The partner's member id")


class EarnBatchCommand(Model):
    model_config = COMMAND_CONFIG

    earns: Annotated[tuple[BatchEarn, ...], Strict(False)] = Field(
        min_length=1, max_length=MAX_EARNS, description="The earns, each with its own reference"
    )

    @model_validator(mode="after")
    def _distinct_references(self) -> EarnBatchCommand:
        references = [earn.reference for earn in self.earns]
        if len(set(references)) < len(references):
            raise ValueError("each earn of a batch needs its own reference")
        return self


class ItemError(Model):
    code: str
    message: str


class BatchItem(Model):
    index: int
    member_id: str
    reference: str
    status: str = Field(description="`posted`, `replayed` (posted before) or `refused`")
    transaction: Transaction | None = None
    balance: Balance | None = None
    error: ItemError | None = None


class EarnBatchResult(Model):
    batch_id: str
    items: list[BatchItem]
    posted: int
    replayed: int
    refused: int


class ItemRecord(Model):
    """What the first answer said about one earn: enough to answer it again exactly."""

    status: str
    transaction_id: str | None = None
    error: ItemError | None = None


class BatchRecord(Model):
    batch_id: str
    fingerprint: str
    items: list[ItemRecord]
    created_at: datetime
    kept_until: datetime


class BatchRecordPort(Protocol):
    def get_batch(self, batch_id: str) -> BatchRecord | None: ...

    def keep_batch(self, record: BatchRecord) -> BatchRecord:
        """Keep the first answer; the one kept already under this id, if there is one."""
        ...

    def posted_earn(self, transaction_id: str) -> tuple[Transaction, Balance] | None:
        """A posted earn and the member's balance after it, as its first answer gave them."""
        ...


def item_transaction_request(earn: BatchEarn) -> IdempotentRequest:
    """The earn's own idempotency: keyed by its reference (keys never hold a newline)."""
    body = earn.model_dump(mode="json", exclude_none=True)
    return IdempotentRequest(
        key=f"earn-batch\n{earn.reference}",
        fingerprint=request_fingerprint("POST", "/v1/earn-batches#earn", body),
    )


class EarnBatches:
    def __init__(
        self,
        ledger: CrossPartnerLedger,
        records: BatchRecordPort,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.ledger = ledger
        self.records = records
        self.clock = clock

    def post(
        self, caller: Caller, command: EarnBatchCommand, request: IdempotentRequest
    ) -> tuple[EarnBatchResult, bool]:
        """Every earn once; (the answer, whether it replays the first answer to this key)."""
        batch_id = derived_id("bat_", caller.partner_id, request.key)
        if (kept := self.records.get_batch(batch_id)) is not None:
            return self._replay(kept, command, request), True
        items = [self._earn(caller, index, earn) for index, earn in enumerate(command.earns)]
        now = self.clock()
        record = BatchRecord(
            batch_id=batch_id,
            fingerprint=request.fingerprint,
            items=[
                ItemRecord(
                    status=item.status,
                    transaction_id=item.transaction.transaction_id if item.transaction else None,
                    error=item.error,
                )
                for item in items
            ],
            created_at=now,
            kept_until=now + KEPT,
        )
        kept = self.records.keep_batch(record)
        if kept.fingerprint != record.fingerprint or kept.created_at != record.created_at:
            return self._replay(kept, command, request), True
        return _result(batch_id, items), False

    def _earn(self, caller: Caller, index: int, earn: BatchEarn) -> BatchItem:
        command = EarnCommand.model_validate(earn.model_dump(mode="json", exclude={"member_id"}))
        item = {"index": index, "member_id": earn.member_id, "reference": earn.reference}
        try:
            posted: PostingResult = self.ledger.earn(
                caller, earn.member_id, command, item_transaction_request(earn)
            )
        except StoreUnavailable:
            raise  # the table is out of reach: the whole batch is retried, not one earn
        except PointsNetError as refused:
            return BatchItem(
                **item,
                status="refused",
                error=ItemError(code=refused.code, message=refused.message),
            )
        return BatchItem(
            **item,
            status="replayed" if posted.replayed else "posted",
            transaction=posted.transaction,
            balance=posted.balance,
        )

    def _replay(
        self, kept: BatchRecord, command: EarnBatchCommand, request: IdempotentRequest
    ) -> EarnBatchResult:
        if kept.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request"
            )
        items = []
        for index, (earn, was) in enumerate(zip(command.earns, kept.items, strict=True)):
            found = self.records.posted_earn(was.transaction_id) if was.transaction_id else None
            items.append(
                BatchItem(
                    index=index,
                    member_id=earn.member_id,
                    reference=earn.reference,
                    status=was.status,
                    transaction=found[0] if found else None,
                    balance=found[1] if found else None,
                    error=was.error,
                )
            )
        return _result(kept.batch_id, items)


def _result(batch_id: str, items: list[BatchItem]) -> EarnBatchResult:
    return EarnBatchResult(
        batch_id=batch_id,
        items=items,
        posted=sum(1 for item in items if item.status == "posted"),
        replayed=sum(1 for item in items if item.status == "replayed"),
        refused=sum(1 for item in items if item.status == "refused"),
    )
