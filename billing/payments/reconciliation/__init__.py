"""The daily reconciliation of every gateway's payments with the ledger and the providers' statements."""
