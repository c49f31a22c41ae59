"""Reconciliation and settlement: what partners owe each other for a period, checked and netted.

- `arithmetic`: lines per ordered pair and program, bilateral netting, net positions;
- `checks`: the ledger invariants a run verifies, with the ids that break them;
- `workflow`: draft | needs_review -> approved -> paid, and disputed, every step recorded;
- `run`: a reconciliation run over a period, streamed and resumable from a checkpoint
  (`run_state`), page by page (`period_reading`), as far as an invocation allows (`budget`);
- `reports`: CSV, JSON and HTML renderings of a settlement.

Nothing here speaks to AWS: it reads and writes through the ports in `ports`, which the
store package implements.
"""
