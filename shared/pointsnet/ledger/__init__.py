"""The double-entry points ledger: transactions made of balanced postings."""
