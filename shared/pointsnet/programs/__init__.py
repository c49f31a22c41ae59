"""Programs' policies: how their points expire, their tiers and how long a hold stays open."""
