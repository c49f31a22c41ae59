"""The demo network `make run` starts with, and the credentials file it writes for it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pointsnet.auth.caller import Caller, Role
from pointsnet.errors import Conflict
from pointsnet.network.commands import SetRate
from pointsnet.network.rates import Rates
from pointsnet.partners.models import NETWORK_PARTNER_ID
from pointsnet.partners.service import PartnerDirectory


@dataclass(frozen=True)
class DemoPartner:
    partner_id: str
    name: str
    program: str | None
    point_value: Decimal | None
    roles: tuple[Role, ...]


# In the order of API.md's example file: the first partner key is what the CLI picks by default.
DEMO_PARTNERS = (
    DemoPartner("starlodge", "StarLodge Hotels", "STAR", Decimal("0.0025"), (Role.PARTNER,)),
    DemoPartner("rideco", "RideCo", "RIDE", Decimal("0.01"), (Role.PARTNER,)),
    DemoPartner(NETWORK_PARTNER_ID, "PointsNet", None, None, (Role.FINANCE, Role.ADMIN)),
)


# A rate each way between the demo programs, at the parity of their point values.
DEMO_RATES = (("STAR", "RIDE", "0.25"), ("RIDE", "STAR", "4"))
OPERATOR = Caller(partner_id=NETWORK_PARTNER_ID, key_id="seed", role=Role.ADMIN)


def seed_demo_network(
    directory: PartnerDirectory, rates: Rates | None = None
) -> list[dict[str, str]]:
    """Create the demo partners (keeping any that exist), their rates, and fresh keys.

    Returns the key entries of the credentials file, secrets included.
    """
    keys: list[dict[str, str]] = []
    for demo in DEMO_PARTNERS:
        try:
            directory.create_partner(demo.partner_id, demo.name, demo.program, demo.point_value)
        except Conflict:
            # A persistent DynamoDB (POINTSNET_DYNAMODB_ENDPOINT) keeps partners across runs.
            existing = directory.store.get_partner(demo.partner_id)
            if existing is None or existing.program != demo.program:
                raise
        for role in demo.roles:
            issued = directory.issue_key(demo.partner_id, role)
            entry = {"partner_id": issued.partner_id}
            if demo.program:
                entry["program"] = demo.program
            entry |= {"role": str(issued.role), "key_id": issued.key_id, "secret": issued.secret}
            keys.append(entry)
    if rates is not None:
        for from_program, to_program, rate in DEMO_RATES:
            rates.set_rate(
                OPERATOR, from_program, to_program, SetRate.model_validate({"rate": rate})
            )
    return keys


def credentials_document(base_url: str, keys: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The `.pointsnet/local.json` document of API.md's local development contract."""
    return {"base_url": base_url, "keys": [dict(key) for key in keys]}


def prepare_state_dir(directory: Path) -> Path:
    """Create the local runtime's folder (`.pointsnet/`), ignored by git from inside."""
    directory.mkdir(parents=True, exist_ok=True)
    ignore_file = directory / ".gitignore"
    if not ignore_file.exists():
        # The folder holds live secrets: keep it out of git whatever the repository ignores.
        ignore_file.write_text("*\n", encoding="utf-8")
    return directory


def write_credentials(path: Path, base_url: str, keys: Iterable[Mapping[str, Any]]) -> Path:
    """Write the credentials file readable by its owner only, replacing any older one whole."""
    prepare_state_dir(path.parent)
    text = json.dumps(credentials_document(base_url, keys), indent=2) + "\n"
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
