"""Shared DynamoDB plumbing: clients, item (de)serialisation, error translation, and the
reads every store makes (an item by key, every page of a query or scan, one page, a batch)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pointsnet.errors import RateLimited, StoreUnavailable

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# BatchGetItem reads at most this many items per call.
BATCH_GET_LIMIT = 100

Item = dict[str, Any]


@cache
def dynamodb_client() -> Any:
    # Standard retry mode retries throttling and transaction conflicts with jitter.
    return boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 4}))


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: _serializer.serialize(value) for name, value in values.items() if value is not None
    }


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def to_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Expression attribute values in DynamoDB's typed form."""
    return {name: _serializer.serialize(value) for name, value in values.items()}


def translate_client_error(exc: ClientError) -> Exception:
    """A domain error for a boto failure that no caller handles more specifically."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code in THROTTLING_CODES:
        return RateLimited("the ledger is busy; retry with the same Idempotency-Key")
    return StoreUnavailable(f"the data store failed ({code or 'unknown'})")


def old_item(exc: ClientError) -> dict[str, Any]:
    """The item a failed condition found (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    response: dict[str, Any] = dict(exc.response)
    old: dict[str, Any] = response["Item"]
    return old


@contextmanager
def sdk_failures_as_unavailable() -> Iterator[None]:
    """What fails before AWS answers (no credentials, no endpoint) is a store that is not there."""
    try:
        yield
    except BotoCoreError as exc:
        raise StoreUnavailable(f"the AWS SDK failed: {exc}") from exc


def get_item(client: Any, table: str, pk: str, sk: str) -> Item | None:
    """One item by key, read consistently."""
    try:
        response = client.get_item(
            TableName=table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True
        )
    except ClientError as exc:
        raise translate_client_error(exc) from exc
    item = response.get("Item")
    return from_item(item) if item else None


def query(client: Any, table: str, **request: Any) -> Iterator[Item]:
    """Every item the query finds, page by page."""
    yield from _every_page(client.query, {"TableName": table, **request})


def query_page(client: Any, table: str, **request: Any) -> tuple[list[Item], Item | None]:
    """One page of a query, and its `LastEvaluatedKey` (None: nothing is left)."""
    return _page(client.query, {"TableName": table, **request})


def scan(client: Any, table: str, **request: Any) -> Iterator[Item]:
    """Every item the scan finds, page by page."""
    yield from _every_page(client.scan, {"TableName": table, **request})


def scan_page(client: Any, table: str, **request: Any) -> tuple[list[Item], Item | None]:
    """One page of a scan, and its `LastEvaluatedKey` (None: nothing is left)."""
    return _page(client.scan, {"TableName": table, **request})


def batch_get(
    client: Any, table: str, keys: Sequence[Mapping[str, Any]], **request: Any
) -> Iterator[Item]:
    """The items of `keys` that exist, in no particular order; `request` adds to each call's
    request for the table (ConsistentRead, ProjectionExpression...)."""
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        pending: dict[str, Any] = {
            table: {"Keys": [to_item(key) for key in keys[start : start + BATCH_GET_LIMIT]]}
            | request
        }
        while pending:
            try:
                response = client.batch_get_item(RequestItems=pending)
            except ClientError as exc:
                raise translate_client_error(exc) from exc
            yield from (from_item(item) for item in response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}


def _page(read: Callable[..., Any], request: dict[str, Any]) -> tuple[list[Item], Item | None]:
    try:
        page = read(**request)
    except ClientError as exc:
        raise translate_client_error(exc) from exc
    return [from_item(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")


def _every_page(read: Callable[..., Any], request: dict[str, Any]) -> Iterator[Item]:
    while True:
        items, last = _page(read, request)
        yield from items
        if last is None:
            return
        request = request | {"ExclusiveStartKey": last}


class DynamoStore:
    """A store that speaks to DynamoDB through the client it was given, or the shared one."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()


class TableStore(DynamoStore):
    """A store of one `pk`/`sk` table: the reads above, bound to its client and table."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        super().__init__(client)
        self.table_name = table_name

    def _get(self, pk: str, sk: str) -> Item | None:
        return get_item(self.client, self.table_name, pk, sk)

    def _put_new(self, item: Mapping[str, Any]) -> Item | None:
        """Put `item` unless its key is taken: None when put, else the item already there."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate_client_error(exc) from exc
            return from_item(old_item(exc))
        return None

    def _query(self, **request: Any) -> Iterator[Item]:
        return query(self.client, self.table_name, **request)

    def _query_page(self, **request: Any) -> tuple[list[Item], Item | None]:
        return query_page(self.client, self.table_name, **request)

    def _scan(self, **request: Any) -> Iterator[Item]:
        return scan(self.client, self.table_name, **request)

    def _scan_page(self, **request: Any) -> tuple[list[Item], Item | None]:
        return scan_page(self.client, self.table_name, **request)

    def _batch_get(self, keys: Sequence[Mapping[str, Any]], **request: Any) -> Iterator[Item]:
        return batch_get(self.client, self.table_name, keys, **request)
