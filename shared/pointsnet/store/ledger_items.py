"""The ledger table's item layout: keys, what each record is stored as, and each write action.

Item layout (one table, `pk`/`sk`, plus the `ByAccount` and `ByDue` indexes):

| item            | pk             | sk                          | notes                         |
| --------------- | -------------- | --------------------------- | ----------------------------- |
| entry           | TXN#<id>       | ENTRY                       | written once; gsi1 = account  |
| reversal state  | TXN#<id>       | REVERSAL                    | points not yet reversed       |
| hold state      | TXN#<id>       | HOLD                        | open until captured or voided |
| member balance  | ACCT#<account> | BALANCE                     | available, pending, version   |
| expiry lot      | ACCT#<account> | LOT#<expiry date>           | remaining, version            |
| tier change     | ACCT#<account> | TIER#<time>#<version>       | written once                  |
| expiring notice | ACCT#<account> | NOTICE#<lot or lapse>#<day> | expires by TTL                |
| v1 signature    | SIGV1#<digest> | SIGNATURE                   | expires by TTL                |

The transaction id is derived from the partner and its Idempotency-Key, so the
entry's `attribute_not_exists` condition is what makes a request post once.

A v1 signature does not cover the Idempotency-Key, so a posting it authorised writes the
signature's digest (never the signature) in the same transaction, naming the posting's
transaction and kept by TTL until just past the signature's validity window. Its condition
(absent, or naming this same transaction) is what refuses that signature under another key.

`ByDue` is a sparse, keys-only index of what the scheduled sweeps must look at: an open hold
(at its timeout), a lot (at its notice, then its expiry) and a balance (at its review). Its
partition is `DUE#<kind>#<shard>`, its sort key the due time: a sweep asks each shard for
everything due by now, however late it runs, and the shards spread the writes of a busy day.
A hold leaves the index when it is resolved, a lot when it is emptied.

Entries, tier changes and notices are the outbox: the events function publishes them from
the table's stream, so an event can be late but never lost after its write committed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import timedelta
from typing import Any

from pointsnet.clock import rfc3339
from pointsnet.errors import NotFound
from pointsnet.ledger.lifecycle import AccountLifecycle
from pointsnet.ledger.lots import lot_expires_at
from pointsnet.ledger.models import (
    AS_STORED,
    ExpiringNotice,
    HoldState,
    HoldStatus,
    InactiveNotice,
    TierChange,
)
from pointsnet.ledger.port import (
    Guard,
    HoldResolution,
    LotChange,
    LotCredit,
    LotDebit,
    ReversalUpdate,
    SignatureUse,
    StoredBalance,
    StoredEntry,
    StoredLot,
)
from pointsnet.network.guards import LinkActive, QuoteUse
from pointsnet.rules.referrals import ReferralCredit
from pointsnet.store.dynamo import (
    to_item,
    to_values,
)
from pointsnet.store.ledger_keys import REFERRAL_SK, account_pk, entry_pk
from pointsnet.store.network_store import link_active_check, quote_use_update

HISTORY_INDEX = "ByAccount"
DUE_INDEX = "ByDue"
ENTRY_SK = "ENTRY"
REVERSAL_SK = "REVERSAL"
HOLD_SK = "HOLD"
BALANCE_SK = "BALANCE"
LOT_PREFIX = "LOT#"
TIER_PREFIX = "TIER#"
NOTICE_PREFIX = "NOTICE#"
SIGNATURE_PREFIX = "SIGV1#"
SIGNATURE_SK = "SIGNATURE"
# Kept a minute past the signature's window: the functions' clocks may differ a little.
SIGNATURE_KEPT_SECONDS = 60
DUE_SHARDS = 16
# Notices are only an outbox: kept a while after the expiry they announce, then dropped.
NOTICE_KEPT = timedelta(days=90)


# The balance item's attributes of its AccountLifecycle, besides `lapse_noticed` (a boolean).
LIFECYCLE_ATTRIBUTES = (
    "earned",
    "tier",
    "lapses_at",
    "review_at",
    "active_at",
    "actions_on",
    "actions",
)


def due_pk(kind: str, pk: str) -> str:
    shard = hashlib.sha256(pk.encode()).digest()[0] % DUE_SHARDS
    return f"DUE#{kind}#{shard:02d}"


def guard_action(table: str, guard: Guard) -> dict[str, Any]:
    if isinstance(guard, LinkActive):
        return link_active_check(table, guard.link_id)
    if isinstance(guard, QuoteUse):
        return quote_use_update(table, guard.quote_id, guard.now, guard.exchange_id)
    if isinstance(guard, ReferralCredit):
        return referral_credit_update(table, guard)
    raise TypeError(f"no write for a {type(guard).__name__} guard")


def referral_credit_update(table: str, guard: ReferralCredit) -> dict[str, Any]:
    """The action of a `ReferralCredit` guard: a pending referral is credited at most once."""
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": account_pk(guard.referral.referred_account), "sk": REFERRAL_SK}),
            "UpdateExpression": "SET #referral.#status = :credited, #referral.credited_at = :at, "
            "#referral.transaction_ids = :ids",
            "ConditionExpression": "#referral.#status = :pending",
            "ExpressionAttributeNames": {"#referral": "referral", "#status": "status"},
            "ExpressionAttributeValues": to_values(
                {
                    ":credited": "credited",
                    ":pending": "pending",
                    ":at": guard.at.isoformat(),
                    ":ids": list(guard.transaction_ids),
                }
            ),
        }
    }


def entry_put(table: str, entry: StoredEntry) -> dict[str, Any]:
    txn = entry.transaction
    item: dict[str, Any] = {
        "pk": entry_pk(txn.transaction_id),
        "sk": ENTRY_SK,
        "gsi1pk": account_pk(entry.account),
        "gsi1sk": f"{rfc3339(txn.created_at)}#{txn.transaction_id}",
        "account": entry.account,
        "transaction": txn.model_dump(mode="json", exclude_none=True),
        "balance_after": entry.balance_after.model_dump(mode="json"),
        "fingerprint": entry.fingerprint,
        "number": entry.number,
    }
    if entry.lots:
        item["lots"] = [move.model_dump(mode="json") for move in entry.lots]
    if entry.previous is not None:
        item["previous"] = entry.previous
    return {
        "TableName": table,
        "Item": to_item(item),
        "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def reversal_update(table: str, change: ReversalUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {":remaining": change.remaining_after, ":one": 1}
    if change.expected_version == 0:
        condition = "attribute_not_exists(pk)"
        update = "SET remaining = :remaining, version = :one"
    else:
        condition = "version = :expected"
        update = "SET remaining = :remaining, version = version + :one"
        values[":expected"] = change.expected_version
    return {
        "TableName": table,
        "Key": to_item({"pk": entry_pk(change.transaction_id), "sk": REVERSAL_SK}),
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": to_values(values),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def lot_action(table: str, change: LotChange) -> dict[str, Any]:
    pk = account_pk(change.account)
    key = to_item({"pk": pk, "sk": f"{LOT_PREFIX}{change.lot_id}"})
    if isinstance(change, LotCredit):
        expires_at = lot_expires_at(change.lot_id)
        first_due = change.notice_at if change.notice_at is not None else expires_at
        sets = [
            "remaining = if_not_exists(remaining, :zero) + :points",
            "version = if_not_exists(version, :zero) + :one",
            "program = :program",
            "partner_id = :partner",
            "member_id = :member",
            "noticed = if_not_exists(noticed, :false)",
            "gsi2pk = :due_pk",
            "gsi2sk = if_not_exists(gsi2sk, :due)",
        ]
        values: dict[str, Any] = {
            ":zero": 0,
            ":one": 1,
            ":points": change.points,
            ":program": change.program,
            ":partner": change.partner_id,
            ":member": change.member_id,
            ":false": False,
            ":due_pk": due_pk("lot", pk),
            ":due": rfc3339(first_due),
        }
        if change.notice_at is not None:
            sets.append("notice_at = if_not_exists(notice_at, :notice_at)")
            values[":notice_at"] = rfc3339(change.notice_at)
        return {
            "Update": {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET " + ", ".join(sets),
                "ExpressionAttributeValues": to_values(values),
            }
        }
    if isinstance(change, LotDebit) and change.remaining_after == 0:
        return {
            "Delete": {
                "TableName": table,
                "Key": key,
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": to_values({":expected": change.expected_version}),
            }
        }
    if isinstance(change, LotDebit):
        update = "SET remaining = :remaining, version = version + :one"
        values = {":remaining": change.remaining_after, ":one": 1}
    else:
        update = "SET noticed = :true, gsi2sk = :due, version = version + :one"
        values = {
            ":true": True,
            ":due": rfc3339(lot_expires_at(change.lot_id)),
            ":one": 1,
        }
    values[":expected"] = change.expected_version
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": update,
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": to_values(values),
        }
    }


def hold_action(table: str, hold: HoldState | HoldResolution) -> dict[str, Any]:
    pk = entry_pk(hold.hold_id)
    if isinstance(hold, HoldState):
        item = {
            "pk": pk,
            "sk": HOLD_SK,
            "hold": hold.model_dump(mode="json", exclude_none=True),
            "status": hold.status.value,
            "gsi2pk": due_pk("hold", pk),
            "gsi2sk": rfc3339(hold.void_after),
        }
        return {
            "Put": {
                "TableName": table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": pk, "sk": HOLD_SK}),
            "UpdateExpression": (
                "SET #status = :status, #hold.#status = :status, #hold.resolved_by = :by, "
                "#hold.resolved_at = :at, #hold.points_captured = :captured "
                "REMOVE gsi2pk, gsi2sk"
            ),
            "ConditionExpression": "#status = :open",
            "ExpressionAttributeNames": {"#status": "status", "#hold": "hold"},
            "ExpressionAttributeValues": to_values(
                {
                    ":status": hold.status.value,
                    ":open": HoldStatus.OPEN.value,
                    ":by": hold.resolved_by,
                    ":at": rfc3339(hold.resolved_at),
                    ":captured": hold.points_captured,
                }
            ),
        }
    }


def tier_change_put(table: str, change: TierChange) -> dict[str, Any]:
    item = {
        "pk": account_pk(change.account),
        "sk": f"{TIER_PREFIX}{rfc3339(change.changed_at)}#{change.version:012d}",
        "change": change.model_dump(mode="json", exclude_none=True),
    }
    return {
        "TableName": table,
        "Item": to_item(item),
        "ConditionExpression": "attribute_not_exists(pk)",
    }


def notice_put(table: str, notice: ExpiringNotice | InactiveNotice) -> dict[str, Any]:
    # Unconditional and the same for a repeated notice: a rewrite is no new stream insert.
    if isinstance(notice, InactiveNotice):
        # One per stretch of inactivity: the stretch is named by the activity it follows.
        sk = f"{NOTICE_PREFIX}inactive#{rfc3339(notice.active_at)}"
        kept_until = notice.noticed_at + NOTICE_KEPT
    else:
        sk = f"{NOTICE_PREFIX}{notice.lot or 'lapse'}#{notice.expires_at.date().isoformat()}"
        kept_until = notice.expires_at + NOTICE_KEPT
    item = {
        "pk": account_pk(notice.account),
        "sk": sk,
        "notice": notice.model_dump(mode="json", exclude_none=True),
        "expires_ttl": int(kept_until.timestamp()),
    }
    return {"TableName": table, "Item": to_item(item)}


def signature_put(table: str, use: SignatureUse) -> dict[str, Any]:
    item = {
        "pk": f"{SIGNATURE_PREFIX}{use.digest}",
        "sk": SIGNATURE_SK,
        "transaction_id": use.transaction_id,
        "expires_ttl": use.valid_until + SIGNATURE_KEPT_SECONDS,
    }
    return {
        "TableName": table,
        "Item": to_item(item),
        "ConditionExpression": "attribute_not_exists(pk) OR transaction_id = :txn",
        "ExpressionAttributeValues": to_values({":txn": use.transaction_id}),
    }


def balance_from_item(item: dict[str, Any]) -> StoredBalance:
    return StoredBalance(
        account=item["pk"].removeprefix("ACCT#"),
        program=item["program"],
        available=int(item["available"]),
        pending=int(item.get("pending", 0)),
        version=int(item["version"]),
        partner_id=item.get("partner_id"),
        member_id=item.get("member_id"),
        lotted=int(item.get("lotted", 0)),
        entries=int(item.get("entries", 0)),
        last_entry=item.get("last_entry"),
        lifecycle=AccountLifecycle(
            earned={month: int(points) for month, points in item.get("earned", {}).items()},
            tier=item.get("tier"),
            lapses_at=item.get("lapses_at"),
            lapse_noticed=bool(item.get("lapse_noticed", False)),
            inactive_noticed=bool(item.get("inactive_noticed", False)),
            review_at=item.get("review_at"),
            active_at=item.get("active_at"),
            actions_on=item.get("actions_on"),
            actions={name: int(count) for name, count in item.get("actions", {}).items()},
        ),
    )


def entry_from_item(item: dict[str, Any]) -> StoredEntry:
    return StoredEntry.model_validate(
        {
            "transaction": item["transaction"],
            "balance_after": item["balance_after"],
            "fingerprint": item["fingerprint"],
            "account": item["account"],
            "lots": item.get("lots", ()),
            "number": int(item.get("number", 0)),
            "previous": item.get("previous"),
        },
        context={AS_STORED: True},
    )


def lot_from_item(item: dict[str, Any]) -> StoredLot:
    return StoredLot(
        account=item["pk"].removeprefix("ACCT#"),
        lot_id=item["sk"].removeprefix(LOT_PREFIX),
        remaining=int(item["remaining"]),
        version=int(item["version"]),
        program=item["program"],
        partner_id=item["partner_id"],
        member_id=item["member_id"],
        notice_at=item.get("notice_at"),
        noticed=bool(item.get("noticed", False)),
    )


def hold_from_item(item: dict[str, Any]) -> HoldState:
    return HoldState.model_validate(item["hold"])


def encode_cursor(key: dict[str, Any]) -> str:
    payload = json.dumps({"s": key["gsi1sk"], "t": key["pk"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, gsi1pk: str) -> dict[str, Any]:
    """Rebuild the start key; the partition always comes from the caller, never the cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort_key, pk = payload["s"], payload["t"]
        if not isinstance(sort_key, str) or not isinstance(pk, str) or not pk.startswith("TXN#"):
            raise ValueError("cursor fields")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        # Any string is a well-formed cursor; one this API never returned names no page.
        raise NotFound("cursor is not one this API returned: no such page") from exc
    return {"gsi1pk": gsi1pk, "gsi1sk": sort_key, "pk": pk, "sk": ENTRY_SK}
