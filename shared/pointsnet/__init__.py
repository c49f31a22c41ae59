"""PointsNet: a multi-partner loyalty points network on a double-entry DynamoDB ledger."""

__version__ = "0.1.0"
