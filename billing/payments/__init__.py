"""Payments: card payments through a gateway (Stripe), webhooks, reconciliation, refunds, bank and office payments."""
