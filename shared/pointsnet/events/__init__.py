"""Events the network publishes: points.earned, points.expiring, points.expired,
member.tier_changed and settlement.ready. See docs/events.md."""
