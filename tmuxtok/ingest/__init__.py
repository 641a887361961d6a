"""From bytes on disk to rows in the ledger: tailing, storing, scanning."""
