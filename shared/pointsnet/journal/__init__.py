"""The journal: every ledger entry, written once to S3 by UTC day and account
shard, hash-chained."""
