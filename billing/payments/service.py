"""Payment verbs: card payments through a gateway, refunds, bank and office payments.

Every verb flushes and never commits, except that a card payment is two verbs around one
commit the caller makes (the idempotency key is saved before the gateway hears of it). Money
reaches the ledger once and statuses only move forward; the webhook that drives them is
`billing.payments.webhooks`. The details are in docs/payments.md.
"""

from datetime import UTC, date, datetime, time

from sqlalchemy import func
from sqlmodel import Session, select

from billing.ledger.service import balance, post_entry, settle_invoices
from billing.models import (
    DEFAULT_CURRENCY,
    PAYMENT_STEPS,
    Gateway,
    LedgerKind,
    PaymentAttempt,
    PaymentStatus,
)
from billing.payments import notices
from billing.payments.gateway import (
    MAX_CHARGE_MINOR,
    GatewayError,
    GatewayUnavailable,
    Intent,
    PaymentGateway,
)
from housing.errors import Conflict, Invalid, Unavailable
from housing.i18n import plain_money


def noon_utc(day: date) -> datetime:
    """When a payment known only by its day happened, for the ledger's order."""
    return datetime.combine(day, time(12), UTC)


def _check_card_amount(session: Session, apartment_id: int, amount_minor: int) -> None:
    if amount_minor <= 0:
        raise Invalid("the amount must be more than zero", field="amount_minor")
    if amount_minor > MAX_CHARGE_MINOR:
        raise Invalid(
            f"a card payment is at most {plain_money(MAX_CHARGE_MINOR, DEFAULT_CURRENCY)} (Stripe's limit per charge);"
            " pay the rest in a second payment",
            field="amount_minor",
        )
    owed = balance(session, apartment_id)
    if owed <= 0:
        raise Invalid("nothing is owed on this account", field="amount_minor")
    if amount_minor > owed:
        raise Invalid(
            f"the amount is more than the {plain_money(owed, DEFAULT_CURRENCY)} owed on this account",
            field="amount_minor",
        )


def open_card_payment(
    session: Session,
    *,
    apartment_id: int,
    amount_minor: int,
    user_id: int,
    client_key: str | None = None,
) -> tuple[PaymentAttempt, bool]:
    """The attempt to send to the gateway and whether it is new.

    A second submit with the same `client_key` by the same user returns the first attempt,
    so a double click never charges twice.
    """
    if client_key is not None:
        earlier = session.exec(
            select(PaymentAttempt).where(
                PaymentAttempt.created_by_id == user_id, PaymentAttempt.client_key == client_key
            )
        ).first()
        if earlier is not None:
            if earlier.apartment_id != apartment_id or earlier.amount_minor != amount_minor:
                raise Conflict(
                    "this Idempotency-Key was already used for another payment", field="Idempotency-Key"
                )
            return earlier, False
    _check_card_amount(session, apartment_id, amount_minor)
    number = (
        1
        + session.exec(
            select(func.count())
            .select_from(PaymentAttempt)
            .where(PaymentAttempt.apartment_id == apartment_id)
        ).one()
    )
    attempt = PaymentAttempt(
        apartment_id=apartment_id,
        gateway=Gateway.stripe,
        amount_minor=amount_minor,
        currency=DEFAULT_CURRENCY,
        idempotency_key=f"apartment:{apartment_id}:attempt:{number}",
        client_key=client_key,
        created_by_id=user_id,
    )
    session.add(attempt)
    session.flush()
    return attempt, True


def send_card_payment(session: Session, gateway: PaymentGateway, attempt: PaymentAttempt) -> Intent:
    """Creates (or, with the saved key, finds again) the attempt's intent and records what the gateway said.

    A refusal fails the attempt and raises Invalid with the gateway's message; an unknown
    outcome leaves the attempt for the reconciliation job and raises Unavailable.
    """
    try:
        intent = gateway.create_intent(
            amount_minor=attempt.amount_minor,
            currency=attempt.currency,
            idempotency_key=attempt.idempotency_key,
            metadata={"attempt_id": str(attempt.id), "apartment_id": str(attempt.apartment_id)},
        )
    except GatewayError as exc:
        move_payment(session, attempt, PaymentStatus.failed, failure_message=exc.message)
        raise Invalid(f"the payment was refused: {exc.message}", field="amount_minor") from exc
    except GatewayUnavailable as exc:
        raise Unavailable(
            "the card payment service did not answer; nothing was charged yet, try again in a few minutes"
        ) from exc
    if attempt.external_id is None:
        attempt.external_id = intent.id
        session.add(attempt)
    apply_intent(session, attempt, intent)
    return intent


def confirm_card_payment(
    session: Session, gateway: PaymentGateway, attempt: PaymentAttempt, *, payment_method_id: str
) -> Intent:
    """Charges the card the payer entered in the browser for the attempt's intent.

    The intent may come back needing 3-D Secure (`requires_action`): the browser completes
    that with Stripe.js, and the webhook books the result. A declined card fails the attempt
    with the bank's message; the payer may try another card on the same intent.
    """
    if attempt.gateway != Gateway.stripe or attempt.external_id is None:
        raise Conflict(f"payment {attempt.id} is not a card payment waiting for a card")
    if PaymentStatus(attempt.status) not in (PaymentStatus.pending, PaymentStatus.failed):
        raise Conflict(f"payment {attempt.id} is {attempt.status}; start a new payment instead")
    try:
        intent = gateway.confirm_intent(attempt.external_id, payment_method_id=payment_method_id)
    except GatewayError as exc:
        move_payment(session, attempt, PaymentStatus.failed, failure_message=exc.message)
        raise Invalid(f"the card was refused: {exc.message}", field="payment_method") from exc
    except GatewayUnavailable as exc:
        raise Unavailable("the card payment service did not answer; try again in a few minutes") from exc
    apply_intent(session, attempt, intent)
    return intent


def refresh_card_payment(session: Session, gateway: PaymentGateway, attempt: PaymentAttempt) -> None:
    """Asks the gateway how an open card payment stands, for a payer waiting on its page.

    The webhook usually gets there first; this only saves the payer a wait. An unreachable
    gateway changes nothing (the reconciliation job catches up later).
    """
    if attempt.external_id is None or PaymentStatus(attempt.status) not in (
        PaymentStatus.created,
        PaymentStatus.pending,
        PaymentStatus.failed,
    ):
        return
    # The webhook may be booking the same payment right now: wait for it, then read its outcome.
    session.refresh(attempt, with_for_update=True)
    try:
        intent = gateway.retrieve_intent(attempt.external_id)
    except (GatewayError, GatewayUnavailable):
        return
    apply_intent(session, attempt, intent)


def apply_intent(session: Session, attempt: PaymentAttempt, intent: Intent) -> bool:
    """Moves the attempt to the intent's status if that is a step forward; whether it moved."""
    return move_payment(session, attempt, intent.status, failure_message=intent.failure_message)


def move_payment(
    session: Session, attempt: PaymentAttempt, status: PaymentStatus, *, failure_message: str = ""
) -> bool:
    """Moves the attempt to `status` if that is a step forward, booking the payment on success."""
    if status is attempt.status or status not in PAYMENT_STEPS[PaymentStatus(attempt.status)]:
        session.flush()
        return False
    attempt.status = status
    if status in (PaymentStatus.failed, PaymentStatus.canceled):
        attempt.failure_message = failure_message[:500]
    elif status is PaymentStatus.succeeded:
        attempt.failure_message = ""
    session.add(attempt)
    session.flush()
    if status is PaymentStatus.succeeded:
        _book_payment(session, attempt)
    return True


def _book_payment(session: Session, attempt: PaymentAttempt, occurred_at: datetime | None = None) -> None:
    post_entry(
        session,
        apartment_id=attempt.apartment_id,
        kind=LedgerKind.payment,
        amount_minor=-attempt.amount_minor,
        currency=attempt.currency,
        invoice_id=attempt.invoice_id,
        payment_attempt_id=attempt.id,
        reference=attempt.external_id or "",
        dedupe_key=f"payment:{attempt.id}",
        occurred_at=occurred_at or attempt.performed_at,
        created_by_id=attempt.created_by_id,
    )
    settle_invoices(session, attempt.apartment_id)
    notices.payment_received(session, attempt)


def refund_payment(
    session: Session,
    gateway: PaymentGateway | None,
    *,
    attempt: PaymentAttempt,
    amount_minor: int,
    user_id: int,
    reason: str,
) -> PaymentAttempt:
    """Hands back part or all of a succeeded payment: never more than was paid and not yet refunded.

    A card payment is refunded at the gateway first (its idempotency key names the running
    total, so a retried request refunds once); a bank or office payment is money handed
    back in person, recorded with the reason.
    """
    if PaymentStatus(attempt.status) is not PaymentStatus.succeeded:
        raise Conflict(
            f"payment {attempt.id} is {attempt.status}; only a succeeded payment not refunded in full can be refunded"
        )
    refundable = attempt.amount_minor - attempt.refunded_minor
    if amount_minor <= 0:
        raise Invalid("the amount must be more than zero", field="amount_minor")
    if amount_minor > refundable:
        raise Invalid(
            f"at most {plain_money(refundable, attempt.currency)} of payment {attempt.id} is left to refund",
            field="amount_minor",
        )
    upto = attempt.refunded_minor + amount_minor
    if attempt.gateway == Gateway.stripe:
        if gateway is None:
            raise Unavailable("card refunds need Stripe, which is not configured on this server")
        if attempt.external_id is None:
            raise Conflict(f"payment {attempt.id} has no Stripe payment to refund")
        try:
            gateway.refund(
                intent_id=attempt.external_id,
                amount_minor=amount_minor,
                idempotency_key=f"attempt:{attempt.id}:refund-upto:{upto}",
            )
        except GatewayError as exc:
            raise Invalid(f"Stripe refused the refund: {exc.message}", field="amount_minor") from exc
        except GatewayUnavailable as exc:
            raise Unavailable("Stripe did not answer; nothing was refunded yet, try again") from exc
    book_refund_upto(session, attempt, upto, user_id=user_id, reason=reason)
    return attempt


def book_refund_upto(
    session: Session,
    attempt: PaymentAttempt,
    upto: int,
    *,
    user_id: int | None,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> int:
    """Books what is refunded beyond what the ledger already has, up to a running total; that difference.

    The entry is dated `occurred_at` (a provider's cancel: the moment it cancelled), else now.
    """
    upto = min(upto, attempt.amount_minor)
    added = upto - attempt.refunded_minor
    if added <= 0:
        return 0
    post_entry(
        session,
        apartment_id=attempt.apartment_id,
        kind=LedgerKind.refund,
        amount_minor=added,
        currency=attempt.currency,
        payment_attempt_id=attempt.id,
        reference=(reason or f"refund of payment {attempt.id}")[:200],
        dedupe_key=f"refund:{attempt.id}:upto:{upto}",
        occurred_at=occurred_at,
        created_by_id=user_id,
    )
    attempt.refunded_minor = upto
    if upto == attempt.amount_minor and PaymentStatus(attempt.status) is PaymentStatus.succeeded:
        attempt.status = PaymentStatus.refunded
    session.add(attempt)
    session.flush()
    settle_invoices(session, attempt.apartment_id)
    notices.payment_refunded(session, attempt, added_minor=added, upto_minor=upto)
    return added


def record_manual_payment(
    session: Session,
    *,
    apartment_id: int,
    amount_minor: int,
    gateway: Gateway,
    reference: str,
    paid_at: datetime,
    user_id: int | None,
) -> PaymentAttempt:
    """A payment made at a bank or an office, booked once per gateway and reference."""
    gateway = Gateway(gateway)
    if gateway is Gateway.stripe:
        raise Invalid(
            "card payments arrive through Stripe; record bank or office payments here", field="gateway"
        )
    if amount_minor <= 0:
        raise Invalid("the amount must be more than zero", field="amount_minor")
    reference = reference.strip()
    if not reference:
        raise Invalid("the bank or receipt reference is required", field="reference")
    earlier = manual_payment(session, gateway, reference)
    if earlier is not None:
        raise Conflict(
            f"{gateway} reference {reference} is already recorded as payment {earlier.id}", field="reference"
        )
    attempt = PaymentAttempt(
        apartment_id=apartment_id,
        gateway=gateway,
        amount_minor=amount_minor,
        currency=DEFAULT_CURRENCY,
        status=PaymentStatus.succeeded,
        idempotency_key=f"{gateway}:{reference}",
        external_id=reference,
        created_by_id=user_id,
    )
    session.add(attempt)
    session.flush()
    _book_payment(session, attempt, occurred_at=paid_at)
    return attempt


def manual_payment(session: Session, gateway: Gateway, reference: str) -> PaymentAttempt | None:
    return session.exec(
        select(PaymentAttempt).where(
            PaymentAttempt.gateway == gateway, PaymentAttempt.external_id == reference
        )
    ).first()
