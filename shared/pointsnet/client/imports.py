"""What a partner joining the network does: batch earns, and imports of opening balances.

imported = client.import_file(Path("members.csv").read_bytes())
while imported["status"] == "running": ...; imported = client.get_import(imported["import_id"])
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pointsnet.client.errors import PointsNetConnectionError, json_object
from pointsnet.client.transport import SignedTransport, path_segment, without_none

FINISHED = ("completed", "failed")


class ImportEndpoints(SignedTransport):
    def earn_batch(
        self, earns: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Up to 100 earns (each an earn's body with its `member_id`); each item's outcome."""
        return self._post("/v1/earn-batches", {"earns": [dict(e) for e in earns]}, idempotency_key)

    def create_import(
        self, *, description: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """A new import, awaiting its file at `upload_url`."""
        return self._post("/v1/imports", without_none(description=description), idempotency_key)

    def upload_import(self, imported: Mapping[str, Any], content: bytes) -> None:
        """PUT the file to the import's pre-signed `upload_url` (unsigned: the URL is)."""
        request = urllib.request.Request(
            str(imported["upload_url"]),
            data=content,
            method="PUT",
            headers={"Content-Type": "text/csv"},
        )
        try:
            with urllib.request.urlopen(request, timeout=max(self.timeout, 60)) as answer:
                answer.read()
        except OSError as exc:
            raise PointsNetConnectionError(f"uploading the import's file failed: {exc}") from exc

    def start_import(self, import_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        return json_object(
            self.request(
                "POST",
                f"/v1/imports/{path_segment(import_id)}/start",
                idempotency_key=idempotency_key,
            )
        )

    def get_import(self, import_id: str) -> dict[str, Any]:
        return json_object(self.request("GET", f"/v1/imports/{path_segment(import_id)}"))

    def import_file(
        self,
        content: bytes,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        poll_seconds: float = 1.0,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Create, upload, start and follow an import to its end; the import as it ended.

        The same `idempotency_key` again resumes the same import: an import already
        completed is answered as it is, a failed one is started again.
        """
        imported = self.create_import(description=description, idempotency_key=idempotency_key)
        if imported["status"] == "awaiting_upload":
            self.upload_import(imported, content)
        if imported["status"] != "completed":
            imported = self.start_import(imported["import_id"])
        deadline = None if timeout is None else time.monotonic() + timeout
        while imported["status"] not in FINISHED:
            if on_progress is not None:
                on_progress(imported)
            if deadline is not None and time.monotonic() > deadline:
                break
            self._sleep(poll_seconds)
            try:
                imported = self.get_import(imported["import_id"])
            except PointsNetConnectionError:
                # The import runs on whether or not this read got through: read it again.
                continue
        return imported
