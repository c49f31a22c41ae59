"""Finding the active key a request claims to be signed with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pointsnet.auth.caller import Caller, KeyStatus
from pointsnet.auth.ports import KeyDirectory, SecretReader
from pointsnet.caching import TimedCache


@dataclass(frozen=True)
class ActiveKey:
    caller: Caller
    secret: str
    # The lowest signature version its partner accepts (PUT /v1/partners/{id}/signing).
    minimum_signature_version: int = 1

    def __repr__(self) -> str:  # the secret never reaches a log through a repr
        return f"ActiveKey(caller={self.caller!r}, secret='***')"


class KeyResolver:
    """Active keys by id, cached for at most `cache_seconds`: the bound on revocation.

    A key is cached with what its partner record says of signing (a v2-only switch), so that
    switch also takes effect within `cache_seconds`.
    """

    def __init__(
        self,
        store: KeyDirectory,
        key_secrets: SecretReader,
        cache_seconds: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.key_secrets = key_secrets
        self._cache: TimedCache[str, ActiveKey | None] = TimedCache(cache_seconds, monotonic)

    def resolve(self, key_id: str) -> ActiveKey | None:
        return self._cache.get(key_id, self._load)

    def _load(self, key_id: str) -> ActiveKey | None:
        key = self.store.get_key(key_id)
        if key is None or key.status != KeyStatus.ACTIVE:
            return None
        partner = self.store.get_partner(key.partner_id)
        secret = self.key_secrets.get(key_id)
        if partner is None or secret is None:
            return None
        caller = Caller(
            partner_id=key.partner_id, key_id=key_id, role=key.role, program=partner.program
        )
        return ActiveKey(
            caller=caller,
            secret=secret,
            minimum_signature_version=partner.signing.minimum_version,
        )
