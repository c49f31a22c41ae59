"""Earning rules: how a program's points are computed from a spend or an action, and referrals."""
