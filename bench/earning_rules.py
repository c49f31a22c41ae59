"""Earning rules' figures: an earn by `amount` (10 rules, 20 items) against an earn by
`points`, in the same bench run, and the rule evaluation alone.

The units come from the capacity meter over the same number of requests of each; the CPU
added is the difference of the two scenarios' p50 handler CPU outside AWS calls, and, since
two p50s of ~1 ms differ by noise of the same order as the target, the evaluation alone is
timed too: `RulePricer.price` on the request's command, as the handler calls it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bench.per_request import CapacityFigures, TimingFigures
from bench.report import Row, at_most, units
from bench.timing import percentile

EVALUATIONS = 2000


def earning_rule_rows(
    plain: CapacityFigures,
    by_amount: CapacityFigures,
    plain_timing: TimingFigures,
    by_amount_timing: TimingFigures,
) -> list[Row]:
    plain_units, rule_units = _posting_units(plain), _posting_units(by_amount)
    added = by_amount_timing.p50_ms - plain_timing.p50_ms
    alone = evaluation_p50_ms()
    return [
        Row(
            "earn by amount (10 rules, 20 items) vs earn by points: DynamoDB units of the posting",
            f"{units(rule_units[0])} WCU + {units(rule_units[1])} RCU vs "
            f"{units(plain_units[0])} WCU + {units(plain_units[1])} RCU",
            "equal",
            "met" if rule_units == plain_units else "missed",
        ),
        Row(
            "handler CPU added by rule evaluation, p50 (request difference; evaluation alone)",
            f"{added:.3f} ms; {alone:.3f} ms",
            "≤ 0.2 ms",
            at_most(max(alone, 0.0), 0.2, " ms", 3),
        ),
    ]


def _posting_units(figures: CapacityFigures) -> tuple[float, float]:
    """The posting's units: the rate limiter's leases (`PARTNER/*`, one per several requests,
    as the pace of the run falls) are the partner's budget, not the earn's, and would make
    two equal postings differ by a few hundredths."""
    consumed = figures.per_request
    writes = sum(u for label, u in consumed.write_units.items() if not label.startswith("PARTNER/"))
    reads = sum(u for label, u in consumed.read_units.items() if not label.startswith("PARTNER/"))
    return round(writes, 6), round(reads, 6)


def evaluation_p50_ms() -> float:
    """p50 of pricing the bench's 20-item earn by the 10-rule set, from a warm rule book."""
    from bench.scenarios import TEN_RULES, _earn_by_amount_body
    from pointsnet.ledger.commands import EarnCommand
    from pointsnet.ledger.earning import MemberStanding
    from pointsnet.rules.book import RuleBook
    from pointsnet.rules.models import RuleSet, StoredRuleSet
    from pointsnet.rules.pricing import RulePricer

    stored = StoredRuleSet(
        program="STAR",
        version=1,
        rules=RuleSet.model_validate({"rules": list(TEN_RULES)}).rules,
    )

    class Fixed:
        def get_rules(self, program: str) -> StoredRuleSet:
            return stored

    pricer = RulePricer(RuleBook(Fixed(), cache_seconds=3600))
    command = EarnCommand.model_validate(_earn_by_amount_body(0), strict=False)
    standing = MemberStanding(tier=None, active_at=None, actions_today=0)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    samples: list[float] = []
    for _ in range(EVALUATIONS):
        started = time.process_time()
        pricer.price("STAR", command, standing, now)
        samples.append((time.process_time() - started) * 1000)
    return percentile(samples, 0.50)
