"""Reconciliation and settlement: what partners owe each other for a period, checked and netted.

- `arithmetic`: lines per ordered pair and program, bilateral netting, net positions;
- `checks`: the ledger invariants a run verifies, with the ids that break them;
- `workflow`: draft | needs_review -> approved -> paid, and disputed, every step recorded;
- `run`: a reconciliation run over a period, streamed and resumable from a checkpoint;
- `reports`: CSV, JSON and HTML renderings of a settlement.

Nothing here speaks to AWS; `pointsnet.store.settlement_store` does.
"""
