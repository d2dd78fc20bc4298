"""Invoices: their API, the resident's and the console's pages, and how a line is worded."""
