"""Tariffs, invoices, the account ledger and payments (builds on housing and sensors)."""
