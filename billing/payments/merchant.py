"""Payments that a provider drives by calling us (Payme, Click): opened, performed or cancelled.

The provider's wire format lives in its own module (`billing.payments.payme`,
`billing.payments.click`); this module is what they share, in our own words. A transaction
is a `PaymentAttempt` of the provider's gateway keyed by the provider's transaction id, so a
repeated call finds the same row and books nothing twice; it moves only forward:

    opened (pending) -> performed (succeeded) -> cancelled after perform (refunded)
                     -> cancelled (canceled)

Performing books one payment in the ledger (allocated oldest invoice first, the resident
told), exactly as a card or bank payment; cancelling a performed one books a refund entry.
Any amount within the provider's limits is accepted, also above the debt or on an account
in credit: the rest stays on the account as prepayment (docs/payments.md).

The resident's checkout from our pay page is a payment `created` before the provider has
heard of it; the provider's first call for the same account and amount takes it over, so the
payer's page follows the provider's transaction.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from billing.models import DEFAULT_CURRENCY, MERCHANT_GATEWAYS, Gateway, PaymentAttempt, PaymentStatus
from billing.payments.service import book_refund_upto, move_payment
from housing import clock
from housing.errors import Invalid
from housing.i18n import plain_money
from housing.registry.models import Apartment
from housing.settings import Settings
from housing.validation import check_text

ACCOUNT_NUMBER_MAX = 20  # Apartment.account_number's length: anything longer names no account


class Refusal(StrEnum):
    """Why a provider's call is refused; each provider's module answers it with its own code."""

    unknown_account = "unknown_account"  # no apartment has this personal account number
    amount_out_of_limits = "amount_out_of_limits"  # below or above the provider's limits
    amount_differs = "amount_differs"  # the call's amount is not the transaction's
    not_found = "not_found"  # no transaction of this provider has this id
    cannot_perform = "cannot_perform"  # cancelled (or timed out) before it was performed
    cannot_cancel = "cannot_cancel"  # performed and already partly handed back at the office


class MerchantRefused(Exception):
    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    """The smallest and largest single payment a provider takes from us, in tiyin."""

    min_minor: int
    max_minor: int


def limits_of(settings: Settings, gateway: Gateway) -> Limits:
    group = settings.payme if Gateway(gateway) is Gateway.payme else settings.click
    return Limits(group.min_amount_minor, group.max_amount_minor)


def configured_gateways(settings: Settings) -> list[Gateway]:
    """The providers that call us and are set up on this server, in the order the pay page offers them."""
    return [
        g
        for g, group in ((Gateway.payme, settings.payme), (Gateway.click, settings.click))
        if group.configured
    ]


def check_payable(session: Session, *, account_number: str, amount_minor: int, limits: Limits) -> Apartment:
    """The apartment a payment of `amount_minor` to `account_number` would go to; refused otherwise."""
    number = account_number.strip()
    apartment = None
    if _storable(number) and len(number) <= ACCOUNT_NUMBER_MAX:
        apartment = session.exec(select(Apartment).where(Apartment.account_number == number)).first()
    if apartment is None:
        raise MerchantRefused(Refusal.unknown_account, f"no personal account {account_number[:40]!r}")
    check_amount(amount_minor, limits)
    return apartment


def _storable(text: str) -> bool:
    """Whether the database can compare this text at all (PostgreSQL refuses NUL, lone surrogates)."""
    try:
        check_text(text)
    except ValueError:
        return False
    return True


def check_amount(amount_minor: int, limits: Limits) -> None:
    if not limits.min_minor <= amount_minor <= limits.max_minor:
        low = plain_money(limits.min_minor, DEFAULT_CURRENCY)
        high = plain_money(limits.max_minor, DEFAULT_CURRENCY)
        raise MerchantRefused(Refusal.amount_out_of_limits, f"one payment must be between {low} and {high}")


def find_transaction(session: Session, gateway: Gateway, external_id: str) -> PaymentAttempt | None:
    """The provider's transaction, locked until the call's transaction ends (calls on it queue up)."""
    return session.exec(
        select(PaymentAttempt)
        .where(PaymentAttempt.gateway == gateway, PaymentAttempt.external_id == external_id)
        .with_for_update()
    ).first()


def require_transaction(session: Session, gateway: Gateway, external_id: str) -> PaymentAttempt:
    attempt = find_transaction(session, gateway, external_id)
    if attempt is None:
        raise MerchantRefused(Refusal.not_found, f"no {gateway} transaction {external_id[:64]!r}")
    return attempt


def open_transaction(
    session: Session,
    gateway: Gateway,
    *,
    external_id: str,
    account_number: str,
    amount_minor: int,
    limits: Limits,
    provider_time: datetime,
    now: datetime,
    checkout_hours: int = 24,
) -> tuple[PaymentAttempt, bool]:
    """The transaction with the provider's id, opened now unless it exists; whether it is new.

    An existing one is returned as it is (the caller answers from its state). A new one takes
    over the payer's checkout for the same account and amount from the last `checkout_hours`,
    if there is one. Two calls with the same id at once make one row: the account's row is
    locked, and a concurrent insert that still loses falls back to the winner's row.
    """
    existing = find_transaction(session, gateway, external_id)
    if existing is not None:
        return existing, False
    apartment = check_payable(
        session, account_number=account_number, amount_minor=amount_minor, limits=limits
    )
    session.exec(select(Apartment.id).where(Apartment.id == apartment.id).with_for_update()).one()
    existing = find_transaction(session, gateway, external_id)  # made while we waited for the lock
    if existing is not None:
        return existing, False
    attempt = _open_checkout(
        session, gateway, apartment.id, amount_minor, since=now - timedelta(hours=checkout_hours)
    )
    if attempt is None:
        attempt = PaymentAttempt(
            apartment_id=apartment.id,
            gateway=gateway,
            amount_minor=amount_minor,
            currency=DEFAULT_CURRENCY,
            idempotency_key=f"{gateway}:{external_id}",
        )
    attempt.external_id = external_id
    attempt.status = PaymentStatus.pending
    attempt.provider_time = provider_time
    attempt.opened_at = now
    try:
        with session.begin_nested():
            session.add(attempt)
    except IntegrityError:
        winner = find_transaction(session, gateway, external_id)
        if winner is None:
            raise
        return winner, False
    return attempt, True


def _open_checkout(
    session: Session, gateway: Gateway, apartment_id: int, amount_minor: int, *, since: datetime
) -> PaymentAttempt | None:
    """The oldest checkout of this account and amount the provider has not opened yet."""
    return session.exec(
        select(PaymentAttempt)
        .where(
            PaymentAttempt.gateway == gateway,
            PaymentAttempt.apartment_id == apartment_id,
            PaymentAttempt.amount_minor == amount_minor,
            PaymentAttempt.status == PaymentStatus.created,
            col(PaymentAttempt.external_id).is_(None),
            PaymentAttempt.created_at >= since,
        )
        .order_by(PaymentAttempt.id)
        .with_for_update()
    ).first()


def perform_transaction(session: Session, attempt: PaymentAttempt, *, now: datetime) -> bool:
    """Books an opened transaction's payment; whether it was performed by this call.

    Performing a performed one again changes nothing; one cancelled before (or after) it was
    performed cannot be performed.
    """
    status = PaymentStatus(attempt.status)
    if status is PaymentStatus.succeeded:
        return False
    if status is not PaymentStatus.pending:
        raise MerchantRefused(
            Refusal.cannot_perform, f"{attempt.gateway} transaction {attempt.external_id} is {status}"
        )
    attempt.performed_at = now
    return move_payment(session, attempt, PaymentStatus.succeeded)


def cancel_transaction(session: Session, attempt: PaymentAttempt, *, reason: int, now: datetime) -> bool:
    """Cancels a transaction with the provider's reason code; whether this call cancelled it.

    Before it was performed no money moved; after, the whole payment is refunded in the
    ledger, unless part of it was already handed back at the office (then it cannot be).
    Cancelling a cancelled one again changes nothing.
    """
    status = PaymentStatus(attempt.status)
    if status is PaymentStatus.refunded and attempt.canceled_at is None:
        # Handed back in full at the office, not cancelled by the provider: the provider would
        # hand it back to the payer a second time.
        raise MerchantRefused(Refusal.cannot_cancel, f"payment {attempt.id} was refunded at the office")
    if status in (PaymentStatus.canceled, PaymentStatus.refunded):
        return False
    if status is PaymentStatus.succeeded:
        if attempt.refunded_minor:
            raise MerchantRefused(
                Refusal.cannot_cancel,
                f"payment {attempt.id} was already refunded in part ({plain_money(attempt.refunded_minor, attempt.currency)})",
            )
        attempt.canceled_at = now
        attempt.cancel_reason = reason
        book_refund_upto(
            session,
            attempt,
            attempt.amount_minor,
            user_id=None,
            reason=f"{attempt.gateway} cancelled transaction {attempt.external_id} (reason {reason})",
            occurred_at=now,
        )
        return True
    attempt.canceled_at = now
    attempt.cancel_reason = reason
    return move_payment(
        session,
        attempt,
        PaymentStatus.canceled,
        failure_message=f"cancelled by {attempt.gateway} (reason {reason})",
    )


def transactions_between(
    session: Session, gateway: Gateway, start: datetime, end: datetime
) -> list[PaymentAttempt]:
    """The provider's transactions it made between `start` and `end` (its own time, both included)."""
    return list(
        session.exec(
            select(PaymentAttempt)
            .where(
                PaymentAttempt.gateway == gateway,
                col(PaymentAttempt.provider_time) >= start,
                col(PaymentAttempt.provider_time) <= end,
            )
            .order_by(col(PaymentAttempt.provider_time), col(PaymentAttempt.id))
        )
    )


def start_checkout(
    session: Session,
    gateway: Gateway,
    *,
    apartment_id: int,
    amount_minor: int,
    limits: Limits,
    user_id: int,
    client_key: str | None = None,
) -> PaymentAttempt:
    """The payer's payment before the provider's checkout: the same `client_key` gives it back."""
    if client_key is not None:
        earlier = session.exec(
            select(PaymentAttempt).where(
                PaymentAttempt.created_by_id == user_id, PaymentAttempt.client_key == client_key
            )
        ).first()
        if earlier is not None:
            return earlier
    try:
        check_amount(amount_minor, limits)
    except MerchantRefused as exc:
        raise Invalid(exc.message, field="amount_minor") from exc
    attempt = PaymentAttempt(
        apartment_id=apartment_id,
        gateway=gateway,
        amount_minor=amount_minor,
        currency=DEFAULT_CURRENCY,
        idempotency_key=f"apartment:{apartment_id}:{gateway}-checkout:{uuid.uuid4().hex}",
        client_key=client_key,
        created_by_id=user_id,
        created_at=clock.now(),  # the clock the takeover window and the abandoning compare with
    )
    session.add(attempt)
    session.flush()
    return attempt


def abandon_checkouts(session: Session, *, before: datetime, now: datetime) -> int:
    """Cancels the checkouts started before `before` that no provider ever opened; how many."""
    stale = session.exec(
        select(PaymentAttempt)
        .where(
            col(PaymentAttempt.gateway).in_(MERCHANT_GATEWAYS),
            PaymentAttempt.status == PaymentStatus.created,
            col(PaymentAttempt.external_id).is_(None),
            PaymentAttempt.created_at < before,
        )
        .with_for_update()
    ).all()
    for attempt in stale:
        attempt.canceled_at = now
        move_payment(
            session,
            attempt,
            PaymentStatus.canceled,
            failure_message="the provider's checkout was not finished",
        )
    return len(stale)
