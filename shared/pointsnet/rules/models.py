"""A program's earning rules, as its partner (or an admin) sets them: the five rule types and
the set they form, parsed strictly like every request body.

A set is checked as a whole when it is put: ids unique, windows that end after they start, a
multiplier only where a `per_amount` rule gives it something to multiply, one rule per
action, at most one `referral` and one `comeback` rule; each refusal names the rule. Tiers
are checked against the program's policy by the service (`unknown_tiers`), which knows it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    model_validator,
)

from pointsnet.clock import UtcTime
from pointsnet.model import Model
from pointsnet.programs.policy import TierName
from pointsnet.strict_json import COMMAND_CONFIG, NOT_A_NUMBER

MAX_RULES = 50
RULE_POINTS_MAX = 1_000_000
# The patterns alone bound the values, and the OpenAPI document shows them, so the two agree.
# `per`: above 0, at most 12 digits before the point and 4 after (a spend's own precision).
PER_PATTERN = r"^(?=.*[1-9])[0-9]{1,12}(?:\.[0-9]{1,4})?$"
# `factor`: from 1 to 100, at most 4 decimal places.
FACTOR_PATTERN = r"^(?:[1-9][0-9]?(?:\.[0-9]{1,4})?|100(?:\.0{1,4})?)$"


def _decimal_string(pattern: str, meaning: str, example: str) -> BeforeValidator:
    def parse(value: object) -> object:
        if not isinstance(value, str):
            raise ValueError(
                f'must be a decimal string such as "{example}"; a JSON number is not exact'
            )
        if not re.fullmatch(pattern, value):
            raise ValueError(f"must be {meaning}")
        return value

    return BeforeValidator(parse)


# Parsed from its JSON string only (Strict(False) lets the string become a Decimal).
PositiveDecimal = Annotated[
    Decimal,
    Strict(False),
    _decimal_string(PER_PATTERN, "a decimal above 0 with at most 12 digits and 4 places", "1.00"),
    WithJsonSchema({"type": "string", "pattern": PER_PATTERN, "examples": ["1.00"]}),
]
Factor = Annotated[
    Decimal,
    Strict(False),
    _decimal_string(FACTOR_PATTERN, "a decimal from 1 to 100 with at most 4 places", "1.5"),
    WithJsonSchema({"type": "string", "pattern": FACTOR_PATTERN, "examples": ["1.5"]}),
]
RulePoints = Annotated[int, Field(ge=1, le=RULE_POINTS_MAX)]
Category = Annotated[str, Field(min_length=1, max_length=64)]
Moment = Annotated[AwareDatetime, Strict(False), NOT_A_NUMBER]


class _Rule(Model):
    model_config = COMMAND_CONFIG

    rule_id: str = Field(pattern=r"^[a-z0-9-]{1,40}$", description="Unique in the set")
    # Declared here so that every rule reads `rule_id`, `type`, ...; each type narrows it.
    type: str
    active_from: Moment | None = Field(
        default=None, description="The rule applies to earns posted from this time"
    )
    active_until: Moment | None = Field(
        default=None, description="... and before this one (not at it)"
    )
    # A JSON array: Strict(False) lets a list be the tuple; each name is still strict.
    tiers: Annotated[tuple[TierName, ...], Strict(False)] | None = Field(
        default=None, min_length=1, description="Only members in one of these tiers"
    )

    def active_at(self, moment: datetime) -> bool:
        """Whether an earn posted at `moment` is in the window [active_from, active_until)."""
        if self.active_from is not None and moment < self.active_from:
            return False
        return self.active_until is None or moment < self.active_until


class PerAmountRule(_Rule):
    type: Literal["per_amount"]
    points: RulePoints = Field(description="Points for every `per` of the qualifying spend")
    per: PositiveDecimal = Field(description="The spend one `points` is given for, above 0")
    category: Category | None = Field(
        default=None, description="Only items of this category qualify; every item without"
    )


class MultiplierRule(_Rule):
    type: Literal["multiplier"]
    factor: Factor = Field(description="From 1 to 100: multiplies the per_amount points")
    category: Category | None = Field(
        default=None, description="Only items of this category; every item without"
    )


class ActionRule(_Rule):
    type: Literal["action"]
    action: str = Field(pattern=r"^[a-z0-9_]{1,40}$", description="The custom action's name")
    points: RulePoints
    max_per_day: int | None = Field(
        default=None, ge=1, le=1000, description="Earns beyond it, per member and UTC day, give 0"
    )


class ReferralRule(_Rule):
    type: Literal["referral"]
    referrer_points: RulePoints
    referred_points: RulePoints


class ComebackRule(_Rule):
    type: Literal["comeback"]
    inactive_days: int = Field(ge=1, le=3650, description="Days without activity before it")
    points: RulePoints


EarningRule = Annotated[
    PerAmountRule | MultiplierRule | ActionRule | ReferralRule | ComebackRule,
    Field(discriminator="type"),
]


class _ReadsRules:
    """What the engine asks of a set, put or stored: its referral, comeback, action rules."""

    if TYPE_CHECKING:
        rules: tuple[EarningRule, ...]

    @property
    def referral(self) -> ReferralRule | None:
        return next((rule for rule in self.rules if isinstance(rule, ReferralRule)), None)

    @property
    def comeback(self) -> ComebackRule | None:
        return next((rule for rule in self.rules if isinstance(rule, ComebackRule)), None)

    def action_rule(self, name: str) -> ActionRule | None:
        return next((r for r in self.rules if isinstance(r, ActionRule) and r.action == name), None)

    def tier_names_used(self) -> frozenset[str]:
        return frozenset(tier for rule in self.rules for tier in rule.tiers or ())


class RuleSet(_ReadsRules, Model):
    """The body of `PUT /v1/programs/{program}/earning-rules`: the whole set, at once."""

    model_config = COMMAND_CONFIG

    rules: Annotated[tuple[EarningRule, ...], Strict(False)] = Field(
        max_length=MAX_RULES, description="Every rule of the program; empty: none"
    )

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        _check_ids_and_windows(self.rules)
        _check_multipliers(self.rules)
        _check_one_rule_each(self.rules)
        return self


def _check_ids_and_windows(rules: Sequence[EarningRule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.rule_id in seen:
            raise ValueError(f"rule_id {rule.rule_id} is used twice")
        seen.add(rule.rule_id)
        if rule.active_from and rule.active_until and rule.active_until <= rule.active_from:
            raise ValueError(f"rule {rule.rule_id}: active_until must be after active_from")


def _check_multipliers(rules: Sequence[EarningRule]) -> None:
    for rule in rules:
        if isinstance(rule, MultiplierRule) and not any(_multiplies(rule, o) for o in rules):
            where = f"category {rule.category}" if rule.category else "any item"
            raise ValueError(f"rule {rule.rule_id}: no per_amount rule for {where} to multiply")


def _multiplies(multiplier: MultiplierRule, rule: EarningRule) -> bool:
    # A category-less per_amount rule covers every item, the multiplier's category too.
    return isinstance(rule, PerAmountRule) and (
        multiplier.category is None or rule.category in (None, multiplier.category)
    )


def _check_one_rule_each(rules: Sequence[EarningRule]) -> None:
    # One rule per action keeps `max_per_day` a single count per member and action.
    by_action: dict[str, str] = {}
    for rule in rules:
        if isinstance(rule, ActionRule):
            if rule.action in by_action:
                raise ValueError(
                    f"rule {rule.rule_id}: action {rule.action} has a rule already "
                    f"({by_action[rule.action]})"
                )
            by_action[rule.action] = rule.rule_id
    for kind in ("referral", "comeback"):
        ids = [rule.rule_id for rule in rules if rule.type == kind]
        if len(ids) > 1:
            raise ValueError(f"rules {', '.join(ids)}: a set has at most one {kind} rule")


def unknown_tiers(rule_set: RuleSet, tier_names: Collection[str]) -> list[dict[str, str]]:
    """The `422` details of every tier a rule names that the program does not have."""
    return [
        {"field": f"body.rules.{index}.tiers", "message": f"unknown tier {tier}"}
        for index, rule in enumerate(rule_set.rules)
        for tier in dict.fromkeys(rule.tiers or ())  # each name once, in the rule's order
        if tier not in tier_names
    ]


class StoredRuleSet(_ReadsRules, Model):
    """A program's set in force, as stored: checked when it was put, so read back as it is."""

    model_config = ConfigDict(frozen=True)

    program: str
    version: int = Field(description="+1 per change; 0: never set")
    rules: tuple[EarningRule, ...] = ()
    updated_at: UtcTime | None = None
    updated_by: str | None = None

    @classmethod
    def empty(cls, program: str) -> StoredRuleSet:
        """The set of a program that never had rules: version 0, nothing earned by rules."""
        return cls(program=program, version=0)
