"""API key secrets, kept in Secrets Manager: never in a table, a log or a later response."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from pointsnet.partners.ports import SecretExists
from pointsnet.store.dynamo import translate_client_error

# A key's secret never changes (rotation issues a new key), so it may be cached long.
SECRET_CACHE_SECONDS = 900


@cache
def secretsmanager_client() -> Any:
    return boto3.client("secretsmanager")


class CachedSecrets:
    """Secrets named `<prefix><id>` in Secrets Manager, read through Powertools' cache."""

    def __init__(self, prefix: str, client: Any = None, *, cache_seconds: int) -> None:
        self.prefix = prefix
        self._client = client
        self.cache_seconds = cache_seconds
        self._provider: SecretsProvider | None = None

    @property
    def client(self) -> Any:
        return self._client or secretsmanager_client()

    def name(self, secret_id: str) -> str:
        return f"{self.prefix}{secret_id}"

    def _read(self, secret_id: str) -> str | None:
        if self._provider is None:
            self._provider = SecretsProvider(boto3_client=self.client)
        try:
            value = self._provider.get(self.name(secret_id), max_age=self.cache_seconds)
        except GetParameterError:
            return None
        return value if isinstance(value, str) else None


class KeySecrets(CachedSecrets):
    def __init__(self, prefix: str, client: Any = None) -> None:
        super().__init__(prefix, client, cache_seconds=SECRET_CACHE_SECONDS)

    def create(self, key_id: str, secret: str, description: str) -> None:
        """Store a new key's secret; `SecretExists` when one was already stored for `key_id`."""
        try:
            self.client.create_secret(
                Name=self.name(key_id), SecretString=secret, Description=description
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceExistsException":
                raise SecretExists(f"a secret for key {key_id} already exists") from exc
            raise translate_client_error(exc) from exc

    def get(self, key_id: str) -> str | None:
        return self._read(key_id)
