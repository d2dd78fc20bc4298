"""The personal account's ledger and its late penalties."""
