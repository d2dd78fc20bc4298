"""Payme's methods on our payments: each call answered from `billing.payments.merchant`'s verbs.

`answer_call` returns the call's result, or an error answer whose change must be kept (a
transaction found past Payme's 12 hours is cancelled with reason 4 and answered -31008);
it raises `Refused` for an error answer that changes nothing. It flushes, never commits: the
route commits once. A transaction is found by Payme's id and locked (`merchant.find_transaction`),
so calls on one transaction queue up and a repeated call gives the same answer.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from billing.models import Gateway, PaymentAttempt, PaymentStatus
from billing.payments import merchant
from billing.payments.merchant import Limits, MerchantRefused, Refusal
from billing.payments.payme import protocol
from billing.payments.payme.protocol import Code, Error, Refused
from housing.db import among
from housing.registry.models import Apartment

PAYME = Gateway.payme


@dataclass(frozen=True, slots=True)
class Cashbox:
    """What the calls need from the settings."""

    account_field: str
    limits: Limits
    checkout_hours: int  # a payer's checkout this recent is taken over by CreateTransaction


def answer_call(
    session: Session, call: protocol.Call, *, cashbox: Cashbox, now: datetime
) -> dict[str, Any] | Error:
    params = call.params
    try:
        match params:
            case protocol.CheckPerform():
                merchant.check_payable(
                    session, account_number=params.account, amount_minor=params.amount, limits=cashbox.limits
                )
                return protocol.allowed()
            case protocol.Create():
                return create_transaction(session, params, cashbox=cashbox, now=now)
            case protocol.Perform():
                return perform_transaction(session, params, now=now)
            case protocol.Cancel():
                return cancel_transaction(session, params, now=now)
            case protocol.Check():
                attempt = merchant.require_transaction(session, PAYME, params.id)
                return protocol.checked(transaction_of(attempt))
            case protocol.Statement():
                return statement(session, params, cashbox=cashbox)
    except MerchantRefused as exc:
        raise refused(exc, cashbox.account_field) from None
    raise AssertionError(f"no answer to {call.method}")  # pragma: no cover - every Params case is matched


def refused(exc: MerchantRefused, account_field: str) -> Refused:
    """Payme's error for a refusal of the merchant verbs."""
    code, data = {
        Refusal.unknown_account: (Code.unknown_account, account_field),
        Refusal.amount_out_of_limits: (Code.wrong_amount, "amount"),
        Refusal.amount_differs: (Code.wrong_amount, "amount"),
        Refusal.not_found: (Code.not_found, None),
        Refusal.cannot_perform: (Code.cannot_perform, None),
        Refusal.cannot_cancel: (Code.cannot_cancel, None),
    }[exc.refusal]
    return Refused(code, data, detail=exc.message)


def create_transaction(
    session: Session, params: protocol.Create, *, cashbox: Cashbox, now: datetime
) -> dict[str, Any] | Error:
    """Opens Payme's transaction (or takes over the payer's checkout); the same id again is the same answer."""
    attempt, is_new = merchant.open_transaction(
        session,
        PAYME,
        external_id=params.id,
        account_number=params.account,
        amount_minor=params.amount,
        limits=cashbox.limits,
        provider_time=params.time,
        now=now,
        checkout_hours=cashbox.checkout_hours,
    )
    if not is_new:
        _same_transaction(session, attempt, params, cashbox.account_field)
        if PaymentStatus(attempt.status) is PaymentStatus.pending and _expired(session, attempt, now):
            return Error(Code.cannot_perform)
        if transaction_of(attempt).state is not protocol.State.opened:
            raise Refused(
                Code.cannot_perform, detail=f"transaction {attempt.id} is {attempt.status}, not opened"
            )
    return protocol.created(transaction_of(attempt))


def _same_transaction(session: Session, attempt: PaymentAttempt, params: protocol.Create, field: str) -> None:
    """A repeated CreateTransaction must name the transaction's own amount and account."""
    if attempt.amount_minor != params.amount:
        raise MerchantRefused(
            Refusal.amount_differs,
            f"transaction {params.id} is of {attempt.amount_minor} tiyin, the call says {params.amount}",
        )
    account = session.exec(select(Apartment.account_number).where(Apartment.id == attempt.apartment_id)).one()
    if account != params.account:
        raise MerchantRefused(Refusal.unknown_account, f"transaction {params.id} is for another account")


def _expired(session: Session, attempt: PaymentAttempt, now: datetime) -> bool:
    """Cancels an opened transaction past Payme's 12 hours (reason 4); whether it was past them."""
    if not protocol.timed_out(attempt.opened_at or attempt.created_at, now):
        return False
    merchant.cancel_transaction(session, attempt, reason=int(protocol.Reason.timeout), now=now)
    return True


def perform_transaction(
    session: Session, params: protocol.Perform, *, now: datetime
) -> dict[str, Any] | Error:
    """Books the payment once; a performed one answers the same, a cancelled or late one -31008."""
    attempt = merchant.require_transaction(session, PAYME, params.id)
    if PaymentStatus(attempt.status) is PaymentStatus.pending and _expired(session, attempt, now):
        return Error(Code.cannot_perform)
    merchant.perform_transaction(session, attempt, now=now)
    return protocol.performed(transaction_of(attempt))


def cancel_transaction(session: Session, params: protocol.Cancel, *, now: datetime) -> dict[str, Any]:
    """Cancels (-1), or refunds a performed one (-2); a cancelled one answers the same.

    A payment already handed back at the office, in part or in full, cannot be cancelled
    (-31007): Payme would hand it back to the card a second time.
    """
    attempt = merchant.require_transaction(session, PAYME, params.id)
    merchant.cancel_transaction(session, attempt, reason=int(params.reason), now=now)
    return protocol.cancelled(transaction_of(attempt))


def statement(session: Session, params: protocol.Statement, *, cashbox: Cashbox) -> dict[str, Any]:
    """Payme's transactions whose own time is within from..to (both included), in that order."""
    attempts = merchant.transactions_between(session, PAYME, params.start, params.end)
    accounts = dict(
        session.exec(
            select(Apartment.id, Apartment.account_number).where(
                among(session, Apartment.id, {a.apartment_id for a in attempts})
            )
        ).all()
    )
    return protocol.statement(
        [transaction_of(a, account=accounts.get(a.apartment_id, "")) for a in attempts],
        account_field=cashbox.account_field,
    )


def transaction_of(attempt: PaymentAttempt, *, account: str = "") -> protocol.Transaction:
    """Our payment as Payme reads its transaction."""
    return protocol.Transaction(
        id=attempt.external_id or "",
        time=protocol.to_ms(attempt.provider_time),
        amount=attempt.amount_minor,
        account=account,
        create_time=protocol.to_ms(attempt.opened_at),
        perform_time=protocol.to_ms(attempt.performed_at),
        cancel_time=protocol.to_ms(attempt.canceled_at),
        transaction=str(attempt.id),
        state=protocol.state_of(attempt.status, cancelled_by_payme=attempt.canceled_at is not None),
        reason=attempt.cancel_reason,
    )
