"""What the earning rules read and write through: rule sets by program, and program owners."""

from __future__ import annotations

from typing import Protocol

from pointsnet.rules.models import StoredRuleSet


class RuleSets(Protocol):
    def get_rules(self, program: str) -> StoredRuleSet | None:
        """The set in force; None when the program never had one."""
        ...


class RuleSetWriter(RuleSets, Protocol):
    def put_rules(self, stored: StoredRuleSet) -> None:
        """Make `stored` the set in force, kept in history too; `Conflict` when its version
        is already taken (someone else changed the set since it was read)."""
        ...

    def program_owner(self, program: str) -> str | None: ...
