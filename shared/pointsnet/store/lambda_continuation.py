"""A run carried over to another invocation: `LambdaContinuation` is settlement's
`Continuation`, an asynchronous invoke of the same function."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from pointsnet.store.dynamo import translate_client_error


@cache
def lambda_client() -> Any:
    return boto3.client("lambda")


class LambdaContinuation:
    """Hands the rest of a run to a fresh invocation of the same function."""

    def __init__(self, function_name: str, client: Any = None) -> None:
        self.function_name = function_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or lambda_client()

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            self.client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=json.dumps(event).encode(),
            )
        except ClientError as exc:
            raise translate_client_error(exc) from exc
