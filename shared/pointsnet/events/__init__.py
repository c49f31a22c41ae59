"""Events the network publishes: points.earned, points.expiring, points.expired,
member.tier_changed and settlement.ready. See docs/events.md."""

from pointsnet.events.settlement import publish_settlement_ready

__all__ = ["publish_settlement_ready"]
