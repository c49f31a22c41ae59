"""The committed JSON Schemas of the events: docs/events/<type>.schema.json.

python -m pointsnet.events.schemas docs/events
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pointsnet.events.models import EVENT_MODELS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event's EventBridge `detail`, as the models serialize it."""
    schema = EVENT_MODELS[event_type].model_json_schema(mode="serialization")
    return {"$schema": SCHEMA_DIALECT, "$id": f"{event_type}.schema.json", **schema}


def schema_files() -> dict[str, str]:
    """File name to text, for every event type."""
    return {
        f"{event_type}.schema.json": json.dumps(event_schema(event_type), indent=2) + "\n"
        for event_type in EVENT_MODELS
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0] if args else "docs/events")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in schema_files().items():
        (directory / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
