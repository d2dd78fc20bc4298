"""Payme: its Merchant API (JSON-RPC calls Payme makes to us) and its checkout link.

Everything that knows Payme's wire format is in this package; it speaks to the rest of
billing through `billing.payments.merchant`.
"""
