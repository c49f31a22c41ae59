"""Imports: a partner's members and their opening balances, posted from a file in batches.

`service` creates an import (an upload URL), starts it and answers where it stands; `rows`
reads a file's rows; the Distributed Map of template.yaml posts them in batches through
`service.Imports.post_batch` (the ledger's `OpeningBalances`), then `finish` writes the
result file.
"""
