"""Reconciliation and settlement: what partners owe each other for a period, checked and netted.

- `arithmetic`: lines per ordered pair and program, bilateral netting, net positions;
- `checks`: the ledger invariants a run verifies, with the ids that break them;
- `workflow`: draft | needs_review -> approved -> paid, and disputed, every step recorded;
- `run`: a reconciliation run over a period: plan, check each journal shard of each day
  (`shard_check`, the state machine's Distributed Map on AWS), settle (`run_state` adds up);
- `steps`: what the reconciliation function does for each step the state machine asks;
- `reports`: CSV, JSON and HTML renderings of a settlement.

Nothing here speaks to AWS: it reads and writes through the ports in `ports`, which the
store package implements.
"""
