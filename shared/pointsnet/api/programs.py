"""Programs API routes: earning rules and metrics, for partner, finance and admin keys.

A program's routes serve three roles, each to its own extent (decided by the services): a
partner its own program only, finance reads metrics of any, an admin everything.
"""

from __future__ import annotations

from collections.abc import Callable

from pointsnet.api.earning_rules import earning_rules_router
from pointsnet.api.metrics import add_metrics_routes
from pointsnet.api.resolver import PointsNetResolver
from pointsnet.auth.caller import Role
from pointsnet.auth.keys import KeyResolver
from pointsnet.metrics.service import ProgramMetrics
from pointsnet.partners.rate_limits import RateLimiter
from pointsnet.rules.service import EarningRules


def create_programs_app(
    rules: Callable[[], EarningRules] | None = None,
    metrics: Callable[[], ProgramMetrics] | None = None,
    keys: Callable[[], KeyResolver] | None = None,
    rate_limiter: Callable[[], RateLimiter] | None = None,
) -> PointsNetResolver:
    from pointsnet import wiring

    app = PointsNetResolver(
        roles={Role.PARTNER, Role.FINANCE, Role.ADMIN},
        keys=keys or wiring.default_key_resolver,
        rate_limiter=rate_limiter,
    )
    app.include_router(earning_rules_router(rules or wiring.default_earning_rules))
    add_metrics_routes(app, metrics or wiring.default_program_metrics)
    return app
