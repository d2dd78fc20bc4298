"""Click: its SHOP-API (the Prepare and Complete calls Click makes to us) and its checkout link.

Everything that knows Click's wire format is in this package; it speaks to the rest of
billing through `billing.payments.merchant`.
"""
