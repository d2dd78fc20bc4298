"""The notices of money booked on a personal account, written in the transaction that books it.

A payment reaching the ledger (a card payment's webhook or page, a bank or office payment)
tells the apartment's resident accounts `payment_received`; a refund booked (by staff or by
Stripe's webhook) tells them `payment_refunded` with the amount handed back. Keyed like the
ledger entries themselves, so a webhook delivered twice or a repeated refund notifies once.
"""

from sqlmodel import Session

from billing.models import PaymentAttempt
from housing import clock
from housing.notifications.recipients import users_of_apartments
from housing.notifications.service import notify


def payment_received(session: Session, attempt: PaymentAttempt) -> int:
    now = clock.now()
    return notify(
        session,
        user_ids=users_of_apartments([attempt.apartment_id], now.date()),
        kind="payment_received",
        params={"amount_minor": attempt.amount_minor, "currency": attempt.currency},
        link=f"/payments/{attempt.id}",
        dedupe=f"payment:{attempt.id}",
        now=now,
    )


def payment_refunded(session: Session, attempt: PaymentAttempt, *, added_minor: int, upto_minor: int) -> int:
    """`added_minor` refunded now, bringing the payment's refunds to `upto_minor` (the key)."""
    now = clock.now()
    return notify(
        session,
        user_ids=users_of_apartments([attempt.apartment_id], now.date()),
        kind="payment_refunded",
        params={"amount_minor": added_minor, "currency": attempt.currency},
        link=f"/payments/{attempt.id}",
        dedupe=f"refund:{attempt.id}:upto:{upto_minor}",
        now=now,
    )
