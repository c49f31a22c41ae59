"""A member balance's write: the whole item put on its first posting, an update from its
version on every later one (`BalanceUpdate`, as the ledger plans it)."""

from __future__ import annotations

from typing import Any

from pointsnet.ledger.port import BalanceUpdate
from pointsnet.store.dynamo import to_item, to_values
from pointsnet.store.ledger_items import BALANCE_SK, LIFECYCLE_ATTRIBUTES, due_pk
from pointsnet.store.ledger_keys import account_pk


def balance_write(table: str, change: BalanceUpdate) -> dict[str, Any]:
    """A balance's action: its first write puts the whole item (as the update would make it),
    every later one updates it from its version."""
    if change.expected_version != 0:
        return {"Update": balance_update(table, change)}
    item: dict[str, Any] = {
        "pk": account_pk(change.account),
        "sk": BALANCE_SK,
        "available": change.available_delta,
        "pending": change.pending_delta,
        "version": 1,
        "program": change.program,
        "partner_id": change.partner_id,
        "member_id": change.member_id,
        "entries": change.entries_delta,
    }
    if change.lotted_delta:
        item["lotted"] = change.lotted_delta
    if change.last_entry is not None:
        item["last_entry"] = change.last_entry
    if change.lifecycle is not None:
        state = change.lifecycle.model_dump(mode="json")
        item |= {
            name: state[name] for name in LIFECYCLE_ATTRIBUTES if state[name] not in (None, {})
        }
        item["lapse_noticed"] = state["lapse_noticed"]
        item["inactive_noticed"] = state["inactive_noticed"]
        if change.lifecycle.review_at is not None:
            item |= {"gsi2pk": due_pk("review", item["pk"]), "gsi2sk": state["review_at"]}
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def balance_update(table: str, change: BalanceUpdate) -> dict[str, Any]:
    debit = max(0, -change.available_delta)
    pk = account_pk(change.account)
    values: dict[str, Any] = {":da": change.available_delta, ":dp": change.pending_delta}
    removes: list[str] = []
    if change.expected_version == 0:
        condition = "attribute_not_exists(pk)"
        sets = [
            "available = :da",
            "pending = :dp",
            "version = :one",
            "program = :program",
            "partner_id = :partner",
            "member_id = :member",
            "entries = :de",
        ]
        values |= {
            ":de": change.entries_delta,
            ":one": 1,
            ":program": change.program,
            ":partner": change.partner_id,
            ":member": change.member_id,
        }
        if change.lotted_delta:
            sets.append("lotted = :dl")
            values[":dl"] = change.lotted_delta
    else:
        # The version makes the balance after the write known without reading it back;
        # the available guard is what keeps a balance from ever going negative.
        condition = "version = :expected AND available >= :debit"
        sets = [
            "available = available + :da",
            "pending = pending + :dp",
            "version = version + :one",
        ]
        values |= {":one": 1, ":expected": change.expected_version, ":debit": debit}
        if change.entries_delta:
            sets.append("entries = if_not_exists(entries, :no_entries) + :de")
            values |= {":de": change.entries_delta, ":no_entries": 0}
        if change.lotted_delta:
            sets.append("lotted = if_not_exists(lotted, :zero) + :dl")
            values |= {":dl": change.lotted_delta, ":zero": 0}
    if change.last_entry is not None:
        sets.append("last_entry = :last_entry")
        values[":last_entry"] = change.last_entry
    if change.lifecycle is not None:
        state = change.lifecycle.model_dump(mode="json")
        for name in LIFECYCLE_ATTRIBUTES:
            if state[name] in (None, {}):
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = state[name]
        sets += ["lapse_noticed = :lapse_noticed", "inactive_noticed = :inactive_noticed"]
        values[":lapse_noticed"] = state["lapse_noticed"]
        values[":inactive_noticed"] = state["inactive_noticed"]
        if change.lifecycle.review_at is not None:
            sets += ["gsi2pk = :due_pk", "gsi2sk = :due_sk"]
            values |= {":due_pk": due_pk("review", pk), ":due_sk": state["review_at"]}
        else:
            removes += ["gsi2pk", "gsi2sk"]
    update = "SET " + ", ".join(sets)
    if removes and change.expected_version != 0:
        update += " REMOVE " + ", ".join(removes)
    return {
        "TableName": table,
        "Key": to_item({"pk": pk, "sk": BALANCE_SK}),
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": to_values(values),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
