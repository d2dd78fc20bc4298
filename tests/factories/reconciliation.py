"""Payments of every gateway made as their own verbs make them, for the reconciliation's tests;
each flushes, none commits."""

import io
from datetime import datetime

from sqlmodel import Session

from billing.models import Gateway, PaymentAttempt, PaymentStatus
from billing.payments import merchant
from billing.payments import service as payments
from housing.registry.models import Apartment
from tests.factories.billing import make_payment_attempt

ANY_AMOUNT = merchant.Limits(1, 10**13)


def provider_payment(
    session: Session,
    gateway: Gateway,
    apartment: Apartment,
    external_id: str,
    amount_minor: int,
    at: datetime,
    *,
    perform: bool = True,
    cancel_at: datetime | None = None,
) -> PaymentAttempt:
    """A Payme or Click transaction opened and (unless told) performed at `at`, cancelled at `cancel_at`."""
    attempt, _ = merchant.open_transaction(
        session,
        gateway,
        external_id=external_id,
        account_number=apartment.account_number,
        amount_minor=amount_minor,
        limits=ANY_AMOUNT,
        provider_time=at,
        now=at,
    )
    if perform:
        merchant.perform_transaction(session, attempt, now=at)
    if cancel_at is not None:
        merchant.cancel_transaction(session, attempt, reason=5, now=cancel_at)
    return attempt


def card_payment(
    session: Session, apartment: Apartment, external_id: str, amount_minor: int
) -> PaymentAttempt:
    """A card payment Stripe said succeeded: booked now (`housing.clock.now`)."""
    attempt = make_payment_attempt(
        session, apartment, amount_minor=amount_minor, external_id=external_id, status=PaymentStatus.pending
    )
    payments.move_payment(session, attempt, PaymentStatus.succeeded)
    return attempt


def bank_payment(
    session: Session,
    apartment: Apartment,
    reference: str,
    amount_minor: int,
    at: datetime,
    *,
    gateway=Gateway.bank,
) -> PaymentAttempt:
    return payments.record_manual_payment(
        session,
        apartment_id=apartment.id,
        amount_minor=amount_minor,
        gateway=gateway,
        reference=reference,
        paid_at=at,
        user_id=None,
    )


def statement_csv(
    *lines: tuple[str, str, str, str, str], header: str = "transaction_id,time,amount,account_number,state"
) -> io.StringIO:
    """A statement file of (transaction_id, time, amount, account_number, state) lines."""
    text = header + "\n" + "".join(",".join(line) + "\n" for line in lines)
    return io.StringIO(text, newline="")
