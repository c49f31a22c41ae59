"""The emulator's state on disk, for `PERSIST=1 make run`: moto's backends, pickled whole.

Runs inside the emulator's process, where moto's backends live. SQS is left out (its queues
hold locks, which do not pickle); the queues are recreated from the template on every start,
and what they held was in flight only.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

# The services whose resources the template declares or the network writes to.
PERSISTED_SERVICES = ("dynamodb", "s3", "secretsmanager", "events", "scheduler")


def _backends(service: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)  # type: ignore[call-overload]


def save(path: Path) -> None:
    """Write every persisted service's state to `path`, replacing the older file whole."""
    state = {service: dict(_backends(service)) for service in PERSISTED_SERVICES}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def restore(path: Path) -> bool:
    """Load the state saved at `path` into moto's backends; False when there is none."""
    if not path.exists():
        return False
    with path.open("rb") as handle:
        # The file is the emulator's own, written by save() into the project's ignored folder.
        state: dict[str, dict[str, Any]] = pickle.load(handle)
    for service, accounts in state.items():
        backends = _backends(service)
        backends.clear()
        backends.update(accounts)
    return True
