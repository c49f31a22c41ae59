"""Links, quotes and obligations (ledger table) and exchange rates (directory table).

| item            | table     | pk                          | sk                      |
| --------------- | --------- | --------------------------- | ----------------------- |
| link            | ledger    | LINK#<id>                   | LINK                    |
| active link     | ledger    | ACCT#<member account>       | LINK#<other program>    |
| quote           | ledger    | QUOTE#<id>                  | QUOTE                   |
| obligation      | ledger    | OBL#<UTC day>#<shard>       | <created_at>#<txn id>   |
| rate            | directory | RATE#<from>#<to>            | <effective_from>        |

An active-link item per member and program is what makes "at most one active
link per other program" a condition DynamoDB enforces. Obligations are keyed
by day so a period reads without scanning the ledger, and sharded so one busy
partner pair does not make a hot partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from pointsnet.clock import rfc3339
from pointsnet.errors import Conflict
from pointsnet.journal.layout import journal_shards, shard_of
from pointsnet.ledger.models import Obligation
from pointsnet.network.models import Link, LinkedAccount, LinkStatus, Rate, StoredLink, StoredQuote
from pointsnet.network.ports import AlreadyExists
from pointsnet.store.dynamo import (
    DynamoStore,
    get_item,
    query,
    query_page,
    to_item,
    to_values,
    translate_client_error,
)
from pointsnet.store.ledger_keys import account_pk


def obligation_pk(day: date, shard: int) -> str:
    return f"OBL#{day.isoformat()}#{shard:04d}"


def obligation_shard(obligation: Obligation) -> int:
    """The journal shard of the obligation's member account: a shard's check reads both."""
    return shard_of(obligation.account or obligation.transaction_id, journal_shards())


def link_active_check(table: str, link_id: str) -> dict[str, Any]:
    """The TransactWriteItems action of a `LinkActive` guard."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": to_item({"pk": f"LINK#{link_id}", "sk": "LINK"}),
            "ConditionExpression": "#link.#status = :active",
            "ExpressionAttributeNames": {"#link": "link", "#status": "status"},
            "ExpressionAttributeValues": to_values({":active": LinkStatus.ACTIVE.value}),
        }
    }


def quote_use_update(table: str, quote_id: str, now: datetime, exchange_id: str) -> dict[str, Any]:
    """The action of a `QuoteUse` guard: an open, unexpired quote moves points at most once."""
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": f"QUOTE#{quote_id}", "sk": "QUOTE"}),
            "UpdateExpression": "SET #quote.#status = :used, used_by = :exchange",
            "ConditionExpression": "#quote.#status = :open AND #quote.expires_at > :now",
            "ExpressionAttributeNames": {"#quote": "quote", "#status": "status"},
            "ExpressionAttributeValues": to_values(
                {":used": "used", ":open": "open", ":now": rfc3339(now), ":exchange": exchange_id}
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def obligation_put(table: str, obligation: Obligation) -> dict[str, Any]:
    """The action that records an obligation once, beside the entry that creates it."""
    shard = obligation_shard(obligation)
    item = {
        "pk": obligation_pk(obligation.created_at.date(), shard),
        "sk": f"{rfc3339(obligation.created_at)}#{obligation.transaction_id}",
        "obligation": obligation.model_dump(mode="json"),
    }
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


class NetworkStore(DynamoStore):
    def __init__(self, ledger_table: str, directory_table: str, client: Any = None) -> None:
        super().__init__(client)
        self.ledger_table = ledger_table
        self.directory_table = directory_table

    # links

    def create_link(self, stored: StoredLink) -> None:
        """Raises AlreadyExists when the link id was taken (a retry)."""
        self._put_new(self.ledger_table, _link_item(stored))

    def get_link(self, link_id: str) -> StoredLink | None:
        item = get_item(self.client, self.ledger_table, f"LINK#{link_id}", "LINK")
        return _stored_link(item) if item else None

    def confirmed_link(self, confirmed_by: str) -> str | None:
        """The link a confirmation (named by its key) confirmed, if it did."""
        item = get_item(self.client, self.ledger_table, f"CFM#{confirmed_by}", "CFM")
        return str(item["link_id"]) if item else None

    def activate_link(self, stored: StoredLink, confirmed_at: datetime, confirmed_by: str) -> None:
        """Pending to active, both members' active-link items, and the confirmation's key
        claimed for this link, in one transaction."""
        link = stored.link
        actions = [
            {
                "Put": {
                    "TableName": self.ledger_table,
                    "Item": to_item(
                        {"pk": f"CFM#{confirmed_by}", "sk": "CFM", "link_id": link.link_id}
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.ledger_table,
                    "Key": to_item({"pk": f"LINK#{link.link_id}", "sk": "LINK"}),
                    "UpdateExpression": (
                        "SET #link.#status = :active, #link.confirmed_at = :at, confirmed_by = :by"
                    ),
                    "ConditionExpression": "#link.#status = :pending AND #link.expires_at > :at",
                    "ExpressionAttributeNames": {"#link": "link", "#status": "status"},
                    "ExpressionAttributeValues": to_values(
                        {
                            ":active": LinkStatus.ACTIVE.value,
                            ":pending": LinkStatus.PENDING.value,
                            ":at": rfc3339(confirmed_at),
                            ":by": confirmed_by,
                        }
                    ),
                }
            },
            {
                "Put": self._active_link_put(
                    link.link_id, link.proposer, link.counterparty, confirmed_at
                )
            },
            {
                "Put": self._active_link_put(
                    link.link_id, link.counterparty, link.proposer, confirmed_at
                )
            },
        ]
        self._transact(
            actions,
            "the link changed, a member already has an active link there, or the key "
            "confirmed another link meanwhile",
        )

    def deactivate_link(self, stored: StoredLink, revoked_at: datetime, revoked_by: str) -> None:
        link = stored.link
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.ledger_table,
                    "Key": to_item({"pk": f"LINK#{link.link_id}", "sk": "LINK"}),
                    "UpdateExpression": (
                        "SET #link.#status = :revoked, #link.revoked_at = :at, "
                        "#link.revoked_by = :by"
                    ),
                    "ConditionExpression": "#link.#status = :was",
                    "ExpressionAttributeNames": {"#link": "link", "#status": "status"},
                    "ExpressionAttributeValues": to_values(
                        {
                            ":revoked": LinkStatus.REVOKED.value,
                            ":at": rfc3339(revoked_at),
                            ":by": revoked_by,
                            ":was": link.status.value,
                        }
                    ),
                }
            }
        ]
        if link.status == LinkStatus.ACTIVE:
            for party, other in (
                (link.proposer, link.counterparty),
                (link.counterparty, link.proposer),
            ):
                actions.append(
                    {
                        "Delete": {
                            "TableName": self.ledger_table,
                            "Key": to_item(_active_link_key(party, other.program)),
                            "ConditionExpression": "link_id = :id",
                            "ExpressionAttributeValues": to_values({":id": link.link_id}),
                        }
                    }
                )
        self._transact(actions, "the link changed while it was being revoked")

    def linked_accounts(self, account: str) -> list[LinkedAccount]:
        """The member's active links, one per other program."""
        items, _ = query_page(
            self.client,
            self.ledger_table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :link)",
            ExpressionAttributeValues=to_values({":pk": account_pk(account), ":link": "LINK#"}),
            ConsistentRead=True,
        )
        return [_linked_account(item) for item in items]

    def linked_account(self, account: str, program: str) -> LinkedAccount | None:
        item = get_item(self.client, self.ledger_table, account_pk(account), f"LINK#{program}")
        return _linked_account(item) if item else None

    # quotes

    def create_quote(self, stored: StoredQuote) -> None:
        """Raises AlreadyExists when the quote id was taken (a retry)."""
        item = {
            "pk": f"QUOTE#{stored.quote.quote_id}",
            "sk": "QUOTE",
            "quote": stored.quote.model_dump(mode="json"),
            "fingerprint": stored.fingerprint,
        }
        self._put_new(self.ledger_table, item)

    def get_quote(self, quote_id: str) -> StoredQuote | None:
        item = get_item(self.client, self.ledger_table, f"QUOTE#{quote_id}", "QUOTE")
        return _stored_quote(item) if item else None

    # obligations

    def obligations_on(self, day: date) -> Iterator[Obligation]:
        """Every obligation recorded on one UTC day, shard by shard, page by page."""
        for shard in range(journal_shards()):
            for item in query(
                self.client,
                self.ledger_table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_values({":pk": obligation_pk(day, shard)}),
                ConsistentRead=True,
            ):
                yield Obligation.model_validate(item["obligation"])

    # rates and programs

    def put_rate(self, rate: Rate) -> None:
        item = {
            "pk": f"RATE#{rate.from_program}#{rate.to_program}",
            "sk": rfc3339(rate.effective_from),
            "rate": rate.model_dump(mode="json"),
        }
        try:
            self.client.put_item(TableName=self.directory_table, Item=to_item(item))
        except ClientError as exc:
            raise translate_client_error(exc) from exc

    def rate_in_force(self, from_program: str, to_program: str, at: datetime) -> Rate | None:
        items, _ = query_page(
            self.client,
            self.directory_table,
            KeyConditionExpression="pk = :pk AND sk <= :at",
            ExpressionAttributeValues=to_values(
                {":pk": f"RATE#{from_program}#{to_program}", ":at": rfc3339(at)}
            ),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        return Rate.model_validate(items[0]["rate"]) if items else None

    def program_owner(self, program: str) -> str | None:
        item = get_item(self.client, self.directory_table, f"PROGRAM#{program}", "OWNER")
        return str(item["partner_id"]) if item else None

    # plumbing

    def _active_link_put(
        self, link_id: str, party: Any, other: Any, confirmed_at: datetime
    ) -> dict[str, Any]:
        return {
            "TableName": self.ledger_table,
            "Item": to_item(
                _active_link_key(party, other.program)
                | {
                    "link_id": link_id,
                    "partner_id": other.partner_id,
                    "program": other.program,
                    "member_id": other.member_id,
                    "confirmed_at": rfc3339(confirmed_at),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def _transact(self, actions: list[dict[str, Any]], conflict_message: str) -> None:
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise Conflict(conflict_message) from exc
            raise translate_client_error(exc) from exc

    def _put_new(self, table: str, item: dict[str, Any]) -> None:
        try:
            self.client.put_item(
                TableName=table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise AlreadyExists(f"{item['pk']} already exists") from exc
            raise translate_client_error(exc) from exc


def _active_link_key(party: Any, other_program: str) -> dict[str, str]:
    from pointsnet.ledger.accounts import member_account

    return {
        "pk": account_pk(member_account(party.partner_id, party.member_id)),
        "sk": f"LINK#{other_program}",
    }


def _link_item(stored: StoredLink) -> dict[str, Any]:
    return {
        "pk": f"LINK#{stored.link.link_id}",
        "sk": "LINK",
        "link": stored.link.model_dump(mode="json", exclude_none=True),
        "fingerprint": stored.fingerprint,
    }


def _stored_link(item: dict[str, Any]) -> StoredLink:
    return StoredLink(
        link=Link.model_validate(item["link"]),
        fingerprint=item["fingerprint"],
        confirmed_by=item.get("confirmed_by"),
    )


def _stored_quote(item: dict[str, Any]) -> StoredQuote:
    return StoredQuote.model_validate({"quote": item["quote"], "fingerprint": item["fingerprint"]})


def _linked_account(item: dict[str, Any]) -> LinkedAccount:
    return LinkedAccount(
        link_id=item["link_id"],
        partner_id=item["partner_id"],
        program=item["program"],
        member_id=item["member_id"],
        confirmed_at=item.get("confirmed_at"),
    )
