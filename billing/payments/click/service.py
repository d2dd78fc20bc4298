"""Click's Prepare and Complete on our books: what each does to the transaction, and the code it answers.

A transaction is the `PaymentAttempt` of gateway click keyed by Click's click_trans_id
(`billing.payments.merchant`); our payment's id is both the merchant_prepare_id and the
merchant_confirm_id. Flush, never commit: the route commits once at its edge, and only
what `Outcome.changed` says changed is worth keeping. The rules and their reasons are in
docs/click.md.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from billing.models import Gateway, PaymentAttempt, PaymentStatus
from billing.payments import merchant
from billing.payments.click.protocol import Call, ClickError, provider_time
from billing.payments.merchant import Limits, MerchantRefused, Refusal
from housing.registry.models import Apartment

CODES: dict[Refusal, ClickError] = {
    Refusal.unknown_account: ClickError.user_does_not_exist,
    Refusal.amount_out_of_limits: ClickError.incorrect_amount,
    Refusal.amount_differs: ClickError.incorrect_amount,
    Refusal.not_found: ClickError.transaction_does_not_exist,
    Refusal.cannot_perform: ClickError.transaction_cancelled,
    Refusal.cannot_cancel: ClickError.already_paid,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The code a call answers, why, our payment's id to answer with, and whether the books changed."""

    error: ClickError
    detail: str = ""
    payment_id: int | None = None
    changed: bool = False


def prepare(
    session: Session,
    call: Call,
    *,
    limits: Limits,
    timezone: str,
    now: datetime,
    checkout_hours: int,
) -> Outcome:
    """Opens Click's transaction for the account and amount; a repeated Prepare answers from its state.

    A new one needs an existing account (-5) and an amount within Click's limits (-2); it
    takes over the payer's checkout of the same account and amount, if there is one. Again
    for the same click_trans_id: the same merchant_prepare_id while it waits for its
    Complete, -4 once it is performed, -9 once it is cancelled.
    """
    try:
        attempt, is_new = merchant.open_transaction(
            session,
            Gateway.click,
            external_id=call.external_id,
            account_number=call.merchant_trans_id,
            amount_minor=call.amount_minor,
            limits=limits,
            provider_time=provider_time(call, timezone),
            now=now,
            checkout_hours=checkout_hours,
        )
    except MerchantRefused as exc:
        return Outcome(CODES[exc.refusal], exc.message)
    if is_new:
        return Outcome(ClickError.success, payment_id=attempt.id, changed=True)
    if not _same_account(session, attempt, call):
        return Outcome(
            ClickError.bad_request,
            f"click_trans_id {call.click_trans_id} was prepared for another account",
            payment_id=attempt.id,
        )
    if attempt.amount_minor != call.amount_minor:
        return Outcome(
            ClickError.incorrect_amount,
            f"click_trans_id {call.click_trans_id} was prepared for {_som(attempt.amount_minor)}",
            payment_id=attempt.id,
        )
    if _performed(attempt):
        return Outcome(ClickError.already_paid, payment_id=attempt.id)
    if PaymentStatus(attempt.status) is not PaymentStatus.pending:
        return Outcome(ClickError.transaction_cancelled, payment_id=attempt.id)
    return Outcome(ClickError.success, payment_id=attempt.id)


def complete(session: Session, call: Call, *, now: datetime) -> Outcome:
    """Performs the prepared transaction, or cancels it when Click's own `error` is below 0.

    merchant_prepare_id must be the payment we prepared for this click_trans_id and account
    (-6). Click's cancel (error < 0) cancels a transaction not yet performed and answers -9;
    one already performed is not reversed here (-4). A cancelled one answers -9, an amount
    other than the prepared one -2, and a performed one the same success again (same
    merchant_confirm_id), so a repeated Complete books nothing twice.
    """
    attempt = merchant.find_transaction(session, Gateway.click, call.external_id)
    if attempt is None:
        return Outcome(
            ClickError.transaction_does_not_exist, f"no prepared click_trans_id {call.click_trans_id}"
        )
    if attempt.id != call.merchant_prepare_id or not _same_account(session, attempt, call):
        return Outcome(
            ClickError.transaction_does_not_exist,
            f"merchant_prepare_id {call.merchant_prepare_id} is not the one prepared for click_trans_id"
            f" {call.click_trans_id} and this account",
        )
    if call.error < 0:
        if _performed(attempt):
            return Outcome(
                ClickError.already_paid,
                "the payment was completed; a completed payment is not reversed by a Complete",
                payment_id=attempt.id,
            )
        try:
            cancelled = merchant.cancel_transaction(session, attempt, reason=call.error, now=now)
        except MerchantRefused as exc:
            return Outcome(CODES[exc.refusal], exc.message)
        return Outcome(
            ClickError.transaction_cancelled, f"cancelled by Click (error {call.error})", changed=cancelled
        )
    if not _performed(attempt) and PaymentStatus(attempt.status) is not PaymentStatus.pending:
        return Outcome(ClickError.transaction_cancelled)
    if attempt.amount_minor != call.amount_minor:
        return Outcome(
            ClickError.incorrect_amount,
            f"click_trans_id {call.click_trans_id} was prepared for {_som(attempt.amount_minor)}",
        )
    if _performed(attempt):
        return Outcome(ClickError.success, payment_id=attempt.id)
    try:
        merchant.perform_transaction(session, attempt, now=now)
    except MerchantRefused as exc:
        return Outcome(CODES[exc.refusal], exc.message)
    return Outcome(ClickError.success, payment_id=attempt.id, changed=True)


def _performed(attempt: PaymentAttempt) -> bool:
    """Performed, whatever happened to the money afterwards (a refund at the office)."""
    return PaymentStatus(attempt.status) in (PaymentStatus.succeeded, PaymentStatus.refunded)


def _same_account(session: Session, attempt: PaymentAttempt, call: Call) -> bool:
    apartment = session.get(Apartment, attempt.apartment_id)
    return apartment is not None and apartment.account_number == call.merchant_trans_id.strip()


def _som(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"
