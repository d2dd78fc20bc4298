"""Consumption: from stored readings to a month's quantity, and how that month is billed."""
