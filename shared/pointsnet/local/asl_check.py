"""What the local interpreter runs, checked when a definition is read: a definition that uses
anything else is refused up front with `UnsupportedFeature` naming it, never half run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pointsnet.local.item_reader import check_reader

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
STATE_TYPES = {"Task", "Map", "Parallel", "Pass", "Wait", "Choice", "Succeed", "Fail"}
# Fields whose meaning the interpreter does not implement: failing loudly beats ignoring them.
UNSUPPORTED_FIELDS = (
    "ResultWriter",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
    "Arguments",
    "Output",
    "Assign",
    "Credentials",
)


class UnsupportedFeature(ValueError):
    """The definition uses a part of the States Language the local interpreter does not run."""


def check_definition(machine: Mapping[str, Any], where: str = "the definition") -> None:
    """Refuse, up front, a definition that uses what `StateMachine` does not run."""
    if machine.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise UnsupportedFeature(f"QueryLanguage {machine['QueryLanguage']} in {where}")
    states = machine.get("States", {})
    if machine.get("StartAt") not in states:
        raise UnsupportedFeature(f"{where} starts at {machine.get('StartAt')!r}, no such state")
    for name, state in states.items():
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            raise UnsupportedFeature(f"state type {kind!r} (state {name} of {where})")
        for key in UNSUPPORTED_FIELDS:
            if key in state:
                raise UnsupportedFeature(f"{key} (state {name} of {where})")
        if kind == "Task":
            resource = str(state.get("Resource", ""))
            if resource != LAMBDA_INVOKE and not resource.startswith("arn:aws:lambda:"):
                raise UnsupportedFeature(f"Task resource {resource} (state {name} of {where})")
        if kind == "Map":
            check_definition(state.get("ItemProcessor") or state["Iterator"], f"map {name}")
            try:
                check_reader(state, f"state {name} of {where}")
            except ValueError as exc:
                raise UnsupportedFeature(str(exc)) from exc
        for index, branch in enumerate(state.get("Branches", []) if kind == "Parallel" else []):
            check_definition(branch, f"branch {index} of {name}")
