"""Default dependencies of the API, built once per execution environment from Settings."""

from __future__ import annotations

from functools import lru_cache

from pointsnet.auth.keys import KeyResolver
from pointsnet.settings import get_settings
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.key_secrets import KeySecrets


@lru_cache(maxsize=1)
def default_key_resolver() -> KeyResolver:
    settings = get_settings()
    return KeyResolver(
        DirectoryStore(settings.directory_table),
        KeySecrets(settings.key_secret_prefix),
        cache_seconds=settings.key_cache_seconds,
    )
