"""Test support: a moto-backed network built from template.yaml, and a signed caller."""

from __future__ import annotations

import json
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

import boto3

from pointsnet import signing
from pointsnet.auth.caller import Role
from pointsnet.idempotency import IDEMPOTENCY_HEADER
from pointsnet.local import emulator
from pointsnet.local.events import http_api_event
from pointsnet.local.template import (
    LocalStack,
    find_route,
    functions,
    http_routes,
    load_handler,
    load_template,
    table_definitions,
)
from pointsnet.partners.models import IssuedKey
from pointsnet.partners.service import PartnerDirectory
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.key_secrets import KeySecrets

STACK = LocalStack()
TEMPLATE = load_template()
PARTNER_FUNCTION_ENV = functions(TEMPLATE, STACK)["PartnerApiFunction"].environment


def create_tables() -> None:
    client = boto3.client("dynamodb")
    for definition in table_definitions(TEMPLATE, STACK).values():
        client.create_table(**definition)


def create_buckets() -> None:
    emulator.create_buckets(boto3.client("s3"), TEMPLATE, STACK)


# How far each emulated ledger stream has been journaled (a new table per test starts at 0).
_journaled: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def catch_up_journal() -> int:
    """Run the journal function over the ledger stream's entry and balance records it has not
    seen yet, as the stream's event source mapping does; the number of records it was given."""
    from moto.dynamodb.models import dynamodb_backends

    from pointsnet.local.streams import lambda_record

    table = dynamodb_backends[STACK.account][STACK.region].get_table(
        PARTNER_FUNCTION_ENV["LEDGER_TABLE"]
    )
    assert table.stream_shard is not None
    items = table.stream_shard.items
    fresh = items[_journaled.get(table, 0) :]
    _journaled[table] = len(items)
    records = [
        lambda_record(item.to_json(), table.latest_stream_label or "")
        for item in fresh
        if item.to_json()["dynamodb"]["Keys"]["sk"]["S"] in ("ENTRY", "BALANCE")
    ]
    if records:
        handler = load_handler(functions(TEMPLATE, STACK)["JournalFunction"])
        handler({"Records": records}, LambdaContextStub("JournalFunction"))
    return len(records)


def partner_directory() -> PartnerDirectory:
    return PartnerDirectory(
        DirectoryStore(PARTNER_FUNCTION_ENV["DIRECTORY_TABLE"]),
        KeySecrets(PARTNER_FUNCTION_ENV["KEY_SECRET_PREFIX"]),
    )


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and "error" in self.body:
            return str(self.body["error"]["code"])
        return None


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LambdaContextStub:
    """What Powertools reads from a Lambda context."""

    function_name: str = "PartnerApiFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:PartnerApiFunction"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class SignedCaller:
    """Calls a handler the way API Gateway would, signing like a partner's client.

    It signs v2 (the Idempotency-Key it sends is signed too) unless `signature_version` is 1.
    """

    handler: Handler
    key: IssuedKey
    clock: Callable[[], float] = time.time
    signature_version: int = signing.LATEST_VERSION

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        idempotency_key: str | None = "auto",
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
        sign: bool = True,
        timestamp: int | None = None,
    ) -> Reply:
        payload = (
            raw_body
            if raw_body is not None
            else (b"" if body is None else json.dumps(body).encode())
        )
        raw_query = urlencode(query or {})
        sent: dict[str, str] = {"content-type": "application/json"}
        if method == "POST" and idempotency_key is not None:
            sent["Idempotency-Key"] = (
                str(uuid.uuid4()) if idempotency_key == "auto" else idempotency_key
            )
        extra = headers or {}
        if sign:
            # v2 signs the Idempotency-Key actually sent, whichever header set it.
            sent_key = next(
                (
                    value
                    for name, value in (sent | extra).items()
                    if name.lower() == IDEMPOTENCY_HEADER.lower()
                ),
                None,
            )
            sent |= signing.sign_request(
                self.key.secret,
                self.key.key_id,
                method,
                path,
                raw_query,
                payload,
                timestamp if timestamp is not None else int(self.clock()),
                idempotency_key=sent_key,
                version=self.signature_version,
            )
        sent |= extra
        found = find_route(http_routes(TEMPLATE), method, path)
        route, params = found if found else (None, {})
        event = http_api_event(
            method,
            path,
            raw_query=raw_query,
            headers=sent,
            body=payload,
            route=route,
            path_parameters=params,
        )
        result = self.handler(event, LambdaContextStub())
        text = result.get("body") or ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(result["statusCode"], dict(result.get("headers") or {}), parsed)

    def earn(
        self,
        member_id: str,
        points: int,
        reference: str = "order-1",
        *,
        idempotency_key: str | None = "auto",
        **extra: Any,
    ) -> Reply:
        body = {"points": points, "reference": reference} | extra
        return self.call(
            "POST", f"/v1/members/{member_id}/earn", body, idempotency_key=idempotency_key
        )

    def burn(
        self,
        member_id: str,
        points: int,
        reference: str = "order-1",
        *,
        idempotency_key: str | None = "auto",
        **extra: Any,
    ) -> Reply:
        body = {"points": points, "reference": reference} | extra
        return self.call(
            "POST", f"/v1/members/{member_id}/burn", body, idempotency_key=idempotency_key
        )

    def reverse(
        self, transaction_id: str, *, idempotency_key: str | None = "auto", **body: Any
    ) -> Reply:
        return self.call(
            "POST",
            f"/v1/transactions/{transaction_id}/reverse",
            body,
            idempotency_key=idempotency_key,
        )

    def get(self, path: str, **query: Any) -> Reply:
        return self.call("GET", path, query=query or None)


@dataclass
class DemoNetwork:
    starlodge: IssuedKey
    rideco: IssuedKey
    finance: IssuedKey
    admin: IssuedKey


def seed_partners(directory: PartnerDirectory) -> DemoNetwork:
    directory.create_partner("network", "PointsNet", None, None)
    directory.create_partner("starlodge", "Star Lodge Hotels", "STAR", Decimal("0.0025"))
    directory.create_partner("rideco", "RideCo", "RIDE", Decimal("0.01"))
    return DemoNetwork(
        starlodge=directory.issue_key("starlodge", Role.PARTNER),
        rideco=directory.issue_key("rideco", Role.PARTNER),
        finance=directory.issue_key("network", Role.FINANCE),
        admin=directory.issue_key("network", Role.ADMIN),
    )


T = TypeVar("T")


def subclasses_of(base: type[T]) -> set[type[T]]:
    """Every class that derives from `base`, however indirectly."""
    found: set[type[T]] = set()
    classes = [base]
    while classes:
        for subclass in classes.pop().__subclasses__():
            if subclass not in found:
                found.add(subclass)
                classes.append(subclass)
    return found
