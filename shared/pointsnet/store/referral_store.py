"""Referrals in the ledger table, one item in the referred member's own partition.

| item     | pk              | sk       | why                                               |
| -------- | --------------- | -------- | ------------------------------------------------- |
| referral | ACCT#<account>  | REFERRAL | a member is referred once; its first earn reads it |

The item remembers the request that made it (Idempotency-Key and fingerprint), so a retry
answers the referral it made and another request for the same member is refused.
"""

from __future__ import annotations

from typing import Any

from pointsnet.errors import IdempotencyKeyReused
from pointsnet.idempotency import IdempotentRequest
from pointsnet.rules.referrals import Referral, ReferralExists
from pointsnet.store.dynamo import TableStore
from pointsnet.store.ledger_items import BALANCE_SK
from pointsnet.store.ledger_keys import REFERRAL_SK, account_pk


class ReferralStore(TableStore):
    def create_referral(self, referral: Referral, request: IdempotentRequest) -> None:
        pk = account_pk(referral.referred_account)
        item = {
            "pk": pk,
            "sk": REFERRAL_SK,
            "referral": referral.model_dump(mode="json", exclude_none=True),
            "request_key": request.key,
            "fingerprint": request.fingerprint,
        }
        existing = self._put_new(item)
        if existing is None:
            return
        same_key = existing.get("request_key") == request.key
        if same_key and existing.get("fingerprint") != request.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request"
            )
        raise ReferralExists(_referral(existing), same_request=same_key)

    def get_referral(self, referred_account: str) -> Referral | None:
        item = self._get(account_pk(referred_account), REFERRAL_SK)
        return _referral(item) if item else None

    def has_history(self, account: str) -> bool:
        item = self._get(account_pk(account), BALANCE_SK)
        return item is not None and int(item.get("entries", 1)) > 0


def _referral(item: dict[str, Any]) -> Referral:
    return Referral.model_validate(item["referral"])
