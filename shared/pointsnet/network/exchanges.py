"""Quotes lock a rate for a short time; an exchange moves a member's points at it, atomically.

An exchange is one TransactWriteItems: the debit leg, the credit leg, both
balances, the quote consumed, every link it relies on checked active, and the
settlement obligation recorded. All of it or none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

from pointsnet.auth.caller import Caller
from pointsnet.errors import (
    Conflict,
    IdempotencyKeyReused,
    InsufficientPoints,
    NotFound,
    NotLinked,
    PointsNetError,
    QuoteExpired,
    ValidationFailed,
)
from pointsnet.idempotency import IdempotentRequest, derived_id, transaction_id_for
from pointsnet.ledger.accounts import exchange_account, member_account
from pointsnet.ledger.engine import MultiPostingResult, PostingEngine, PostingResult, leg_id
from pointsnet.ledger.models import Posting, Transaction, TransactionType
from pointsnet.ledger.plans import Leg, PlannedWrite
from pointsnet.ledger.port import GuardFailed
from pointsnet.network.commands import CreateQuote, ExecuteExchange
from pointsnet.network.guards import LinkActive, QuoteUse
from pointsnet.network.models import LinkedAccount, Quote, QuoteStatus, StoredQuote
from pointsnet.network.ports import AlreadyExists, NetworkPort
from pointsnet.network.pricing import Pricing
from pointsnet.network.rates import Rates


@dataclass(frozen=True)
class QuoteResult:
    quote: Quote
    replayed: bool


@dataclass(frozen=True)
class ExchangeResult:
    exchange_id: str
    quote: Quote
    debit: PostingResult
    credit: PostingResult
    replayed: bool


class Exchanges:
    def __init__(
        self,
        engine: PostingEngine,
        network: NetworkPort,
        rates: Rates,
        pricing: Pricing,
        quote_ttl: timedelta,
    ) -> None:
        self.engine = engine
        self.network = network
        self.rates = rates
        self.pricing = pricing
        self.quote_ttl = quote_ttl
        # One clock for a quote and the exchange that uses it: the ledger's.
        self.clock = engine.clock

    def quote(
        self, caller: Caller, command: CreateQuote, request: IdempotentRequest
    ) -> QuoteResult:
        quote_id = derived_id("qte_", caller.partner_id, request.key)
        existing = self.network.get_quote(quote_id)
        if existing is not None:
            return QuoteResult(_replayed_quote(existing, request), replayed=True)
        if command.from_program == command.to_program:
            raise ValidationFailed(
                "an exchange moves points between two different programs",
                details=[{"field": "to_program", "message": "same as from_program"}],
            )
        source = self._account(caller, command.member_id, command.from_program)
        destination = self._account(caller, command.member_id, command.to_program)
        rate = self.rates.rate_in_force(command.from_program, command.to_program)
        # The member gets whole points, rounded down; the network keeps the fraction.
        points_in = int((rate.rate * command.points).to_integral_value(rounding=ROUND_FLOOR))
        if points_in < 1:
            raise ValidationFailed(
                f"{command.points} {command.from_program} points buy less than one "
                f"{command.to_program} point at {rate.rate}",
                details=[{"field": "points", "message": "too few to exchange"}],
            )
        self._refuse_short(source, command.from_program, command.points)
        now = self.clock()
        quote = Quote(
            quote_id=quote_id,
            partner_id=caller.partner_id,
            member_id=command.member_id,
            from_program=command.from_program,
            to_program=command.to_program,
            rate=rate.rate,
            points_out=command.points,
            points_in=points_in,
            expires_at=now + self.quote_ttl,
            created_at=now,
            source=source,
            destination=destination,
            link_ids=tuple(
                sorted({account.link_id for account in (source, destination) if account.link_id})
            ),
            obligation=self.pricing.exchange(source, destination, rate, command.points, points_in),
        )
        try:
            self.network.create_quote(StoredQuote(quote=quote, fingerprint=request.fingerprint))
        except AlreadyExists:
            stored = self.network.get_quote(quote_id)
            if stored is None:
                raise
            return QuoteResult(_replayed_quote(stored, request), replayed=True)
        return QuoteResult(quote, replayed=False)

    def execute(
        self, caller: Caller, command: ExecuteExchange, request: IdempotentRequest
    ) -> ExchangeResult:
        stored = self.network.get_quote(command.quote_id)
        if stored is None or stored.quote.partner_id != caller.partner_id:
            raise NotFound(f"no quote {command.quote_id}")
        quote = stored.quote
        exchange_id = derived_id("exc_", caller.partner_id, request.key)
        debit_id = transaction_id_for(caller.partner_id, request.key)
        credit_id = leg_id(caller.partner_id, request.key, "credit")
        source_account = member_account(quote.source.partner_id, quote.source.member_id)
        destination_account = member_account(
            quote.destination.partner_id, quote.destination.member_id
        )

        def plan(now: datetime) -> PlannedWrite:
            if quote.status == QuoteStatus.USED:
                raise Conflict(f"quote {quote.quote_id} was already used")
            if now >= quote.expires_at:
                raise QuoteExpired(f"quote {quote.quote_id} expired at {quote.expires_at}")
            common = {
                "initiated_by": caller.partner_id,
                "reference": quote.quote_id,
                "exchange_id": exchange_id,
                "created_at": now,
            }
            debit = Transaction(
                transaction_id=debit_id,
                type=TransactionType.EXCHANGE,
                program=quote.from_program,
                points=quote.points_out,
                partner_id=quote.source.partner_id,
                member_id=quote.source.member_id,
                description=f"exchange to {quote.to_program}",
                postings=(
                    Posting(account=source_account, points=-quote.points_out),
                    Posting(account=exchange_account(quote.from_program), points=quote.points_out),
                ),
                **common,
            )
            credit = Transaction(
                transaction_id=credit_id,
                type=TransactionType.EXCHANGE,
                program=quote.to_program,
                points=quote.points_in,
                partner_id=quote.destination.partner_id,
                member_id=quote.destination.member_id,
                description=f"exchange from {quote.from_program}",
                obligation=quote.obligation,
                postings=(
                    Posting(account=exchange_account(quote.to_program), points=-quote.points_in),
                    Posting(account=destination_account, points=quote.points_in),
                ),
                **common,
            )
            guards = (
                QuoteUse(quote.quote_id, now, exchange_id),
                *(LinkActive(link_id) for link_id in quote.link_ids),
            )
            return PlannedWrite(
                legs=(Leg(debit, source_account), Leg(credit, destination_account)),
                guards=guards,
            )

        try:
            result = self.engine.post(plan, request, (debit_id, credit_id))
        except GuardFailed as failed:
            raise self._guard_error(quote)(failed) from failed
        return _exchange_result(exchange_id, quote, result)

    def _account(self, caller: Caller, member_id: str, program: str) -> LinkedAccount:
        if program == caller.program:
            return LinkedAccount(
                link_id="", partner_id=caller.partner_id, program=program, member_id=member_id
            )
        linked = self.network.linked_account(member_account(caller.partner_id, member_id), program)
        if linked is None:
            raise NotLinked(f"member {member_id} has no active link to program {program}")
        return linked

    def _refuse_short(self, source: LinkedAccount, program: str, points: int) -> None:
        """A quote for more points than the member has now is refused, with one read of the
        member's balance item; the exchange checks again, in its write, for what moved since."""
        balance = self.engine.store.get_balance(member_account(source.partner_id, source.member_id))
        available = balance.available if balance else 0
        if available < points:
            raise InsufficientPoints(
                f"member {source.member_id} has {available} {program} points available, "
                f"{points} quoted"
            )

    def _guard_error(self, quote: Quote) -> Callable[[GuardFailed], PointsNetError]:
        def error(failed: GuardFailed) -> PointsNetError:
            if failed.name == "link":
                return NotLinked("a link this exchange relies on is no longer active")
            if failed.name == "quote":
                current = self.network.get_quote(quote.quote_id)
                if current is not None and current.quote.status == QuoteStatus.USED:
                    return Conflict(f"quote {quote.quote_id} was already used")
                return QuoteExpired(f"quote {quote.quote_id} expired at {quote.expires_at}")
            return Conflict(f"the exchange could not be recorded ({failed.name})")

        return error


def _replayed_quote(stored: StoredQuote, request: IdempotentRequest) -> Quote:
    if stored.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request")
    return stored.quote.model_copy(update={"status": QuoteStatus.OPEN})


def _exchange_result(exchange_id: str, quote: Quote, result: MultiPostingResult) -> ExchangeResult:
    debit, credit = result.legs
    return ExchangeResult(
        exchange_id=exchange_id,
        quote=quote.model_copy(update={"status": QuoteStatus.OPEN}),
        debit=debit,
        credit=credit,
        replayed=result.replayed,
    )
