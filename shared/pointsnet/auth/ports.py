"""What authentication reads: a key's record, its partner's, and the key's secret.

`pointsnet.store.directory_store.DirectoryStore` and `pointsnet.store.key_secrets.KeySecrets`
implement these; the records they return are the partners package's models.
"""

from __future__ import annotations

from typing import Protocol

from pointsnet.auth.caller import KeyStatus, Role


class KeyRecord(Protocol):
    @property
    def partner_id(self) -> str: ...

    @property
    def status(self) -> KeyStatus: ...

    @property
    def role(self) -> Role: ...


class SigningRecord(Protocol):
    @property
    def minimum_version(self) -> int: ...


class PartnerRecord(Protocol):
    @property
    def program(self) -> str | None: ...

    @property
    def signing(self) -> SigningRecord: ...


class KeyDirectory(Protocol):
    def get_key(self, key_id: str) -> KeyRecord | None: ...

    def get_partner(self, partner_id: str) -> PartnerRecord | None: ...


class SecretReader(Protocol):
    def get(self, key_id: str) -> str | None:
        """The key's signing secret, if it has one."""
        ...
