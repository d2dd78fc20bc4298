"""HTML routes of paying by card: the amount form, and the payment's page where the card is entered.

Paying is two steps: the amount is an ordinary form (POST, then 303 to the payment's page),
and the card itself is entered on the payment's page with Stripe.js, the one part that needs
JavaScript (`static/pay.js`). Without Stripe settings the form says to pay at a bank or office.
"""

import uuid
from decimal import Decimal
from typing import Annotated

from babel.numbers import NumberFormatError, parse_decimal
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billing.invoices.queries import VisibleAccount, account_address
from billing.ledger.service import balances
from billing.models import DEFAULT_CURRENCY, PaymentStatus
from billing.payments import service as payments
from billing.payments.endpoints import OptionalGateway
from billing.payments.gateway import MAX_CHARGE_MINOR, PaymentGateway
from billing.payments.queries import VisiblePayment
from housing import i18n
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import SettingsDep
from housing.errors import DomainError, Forbidden, Invalid
from housing.registry.models import Apartment
from housing.validation import Text
from housing.web import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)


@router.get("/apartments/{apartment_id}/pay", response_class=HTMLResponse)
def pay_form(
    apartment: VisibleAccount,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    gateway: OptionalGateway,
) -> Response:
    owed = balances(session, [apartment.id])[apartment.id]
    language = request_language(request, actor.language)
    amount = i18n.number(Decimal(owed).scaleb(-2), language) if owed > 0 else ""
    address = account_address(session, apartment.id)
    return _pay_page(request, actor, gateway, apartment, address, owed, amount=amount, error=None)


@router.post("/apartments/{apartment_id}/pay", response_class=HTMLResponse)
def pay_submit(
    apartment: VisibleAccount,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    gateway: OptionalGateway,
    amount: Annotated[Text, Form(max_length=40)],
    form_key: Annotated[Text, Form(max_length=100)],
) -> Response:
    """Opens the card payment (once per form, whatever the number of clicks) and shows its page."""
    apartment_id = apartment.id
    address = account_address(session, apartment_id)
    owed = balances(session, [apartment_id])[apartment_id]
    error = _amount_error(request, actor, amount, owed, gateway)
    if error is not None:
        return _pay_page(
            request, actor, gateway, apartment, address, owed, amount=amount, error=error, status=422
        )
    minor = _minor(request, actor, amount)
    assert gateway is not None and minor is not None
    try:
        attempt, _ = payments.open_card_payment(
            session, apartment_id=apartment_id, amount_minor=minor, user_id=actor.user_id, client_key=form_key
        )
        session.commit()  # the idempotency key is saved before Stripe hears of the payment
        if attempt.external_id is None:
            payments.send_card_payment(session, gateway, attempt)
    except DomainError as exc:
        if isinstance(exc, Invalid):
            session.commit()  # a refused card leaves the attempt failed with Stripe's message: keep it
        else:
            session.rollback()
        return _pay_page(
            request,
            actor,
            gateway,
            apartment,
            address,
            owed,
            amount=amount,
            error=exc.detail,
            status=exc.status,
        )
    return RedirectResponse(f"/payments/{attempt.id}", status_code=303)


@router.get("/payments/{payment_id}", response_class=HTMLResponse)
def payment_page(
    attempt: VisiblePayment,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    gateway: OptionalGateway,
) -> Response:
    """Where the payer enters the card, and then reads how the payment went."""
    if gateway is not None:
        payments.refresh_card_payment(session, gateway, attempt)
    status = PaymentStatus(attempt.status)
    can_pay = (
        gateway is not None
        and attempt.external_id is not None
        and status in (PaymentStatus.pending, PaymentStatus.failed)
        and attempt.created_by_id == actor.user_id
    )
    return render(
        request,
        "billing/payment.html",
        actor=actor,
        payment=attempt,
        can_pay=can_pay,
        js_url=settings.stripe.js_url,
        publishable_key=gateway.publishable_key if gateway else None,
    )


def _pay_page(
    request: Request,
    actor: Actor,
    gateway: PaymentGateway | None,
    apartment: Apartment,
    address: str,
    owed: int,
    *,
    amount: str,
    error: str | None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "billing/pay.html",
        status_code=status,
        actor=actor,
        apartment=apartment,
        address=address,
        owed=owed,
        currency=DEFAULT_CURRENCY,
        amount=amount,
        error=error,
        form_key=uuid.uuid4().hex,
        card_payments=gateway is not None,
        is_resident=actor.role is Role.resident,
    )


def _minor(request: Request, actor: Actor, amount: str) -> int | None:
    """The typed amount in tiyin, read the way the page's language writes numbers."""
    language = request_language(request, actor.language)
    try:
        value = parse_decimal(amount.strip(), locale=i18n.babel_locale(language))
    except NumberFormatError:
        return None
    if value != value.quantize(Decimal("0.01")):
        return None
    return int(value.scaleb(2))


def _amount_error(
    request: Request, actor: Actor, amount: str, owed: int, gateway: PaymentGateway | None
) -> str | None:
    _ = gettext_for(request, actor)
    if actor.role is not Role.resident:
        raise Forbidden("card payments are made by the residents; record a bank or office payment instead")
    if gateway is None:
        return _("Card payments are not available on this server. Pay at a bank or an office.")
    minor = _minor(request, actor, amount)
    if minor is None:
        return _("Enter the amount in som, for example 150000 or 150000,50.")
    if minor <= 0:
        return _("The amount must be more than zero.")
    if owed <= 0:
        return _("Nothing is owed on this account.")
    if minor > owed:
        return _("The amount is more than is owed on this account.")
    if minor > MAX_CHARGE_MINOR:
        limit = i18n.money(MAX_CHARGE_MINOR, DEFAULT_CURRENCY, request_language(request, actor.language))
        return _("One card payment can be at most %(limit)s; pay the rest in a second payment.") % {
            "limit": limit
        }
    return None
