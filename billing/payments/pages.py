"""HTML routes of paying online: the pay form, and the payment's page.

The pay form offers the ways of paying this server has: a card through Stripe, Payme,
Click (radio buttons; the only one is chosen already). By card it is two steps: the amount
is an ordinary form (POST, then 303 to the payment's page), and the card itself is entered
on the payment's page with Stripe.js, the one part that needs JavaScript (`static/pay.js`).
Through Payme or Click the form starts the payment and answers 303 to the provider's
checkout, which sends the payer back to the payment's page; that page shows what the
provider told us (and reloads itself for a while until it has). Without any of them the
form says to pay at a bank or an office.
"""

import uuid
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from babel.numbers import NumberFormatError, parse_decimal
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from billing.invoices.queries import VisibleAccount, account_address
from billing.ledger.service import balances
from billing.models import DEFAULT_CURRENCY, Gateway, PaymentAttempt, PaymentStatus
from billing.payments import checkouts, merchant
from billing.payments import service as payments
from billing.payments.endpoints import OptionalGateway, checkout_link
from billing.payments.gateway import MAX_CHARGE_MINOR, PaymentGateway
from billing.payments.queries import VisiblePayment
from housing import clock, i18n
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import SettingsDep
from housing.errors import Conflict, DomainError, Forbidden, Invalid
from housing.registry.models import Apartment
from housing.settings import Settings
from housing.validation import Text
from housing.web import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)

CARD = "card"
# The payment's page reloads itself this often while the provider has not told us the outcome,
# for this long after the payment was started (then the payer reloads it by hand).
REFRESH_SECONDS = 5
REFRESH_FOR = timedelta(minutes=10)


@router.get("/apartments/{apartment_id}/pay", response_class=HTMLResponse)
def pay_form(
    apartment: VisibleAccount,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    gateway: OptionalGateway,
) -> Response:
    owed = balances(session, [apartment.id])[apartment.id]
    language = request_language(request, actor.language)
    amount = i18n.number(Decimal(owed).scaleb(-2), language) if owed > 0 else ""
    address = account_address(session, apartment.id)
    return _pay_page(
        request, actor, settings, gateway, apartment, address, owed, amount=amount, method=None, error=None
    )


@router.post("/apartments/{apartment_id}/pay", response_class=HTMLResponse)
def pay_submit(
    apartment: VisibleAccount,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    gateway: OptionalGateway,
    amount: Annotated[Text, Form(max_length=40)],
    form_key: Annotated[Text, Form(max_length=100)],
    method: Annotated[Text | None, Form(max_length=20)] = None,
) -> Response:
    """Starts the payment the form asks for (once per form, whatever the number of clicks).

    By card: opens the card payment and shows its page. Through Payme or Click: starts the
    payment and sends the payer to the provider's checkout.
    """
    if actor.role is not Role.resident:
        raise Forbidden("online payments are made by the residents; record a bank or office payment instead")
    apartment_id = apartment.id
    address = account_address(session, apartment_id)
    owed = balances(session, [apartment_id])[apartment_id]

    def again(error: str | None, status: int, *, method_error: str | None = None) -> Response:
        return _pay_page(
            request,
            actor,
            settings,
            gateway,
            apartment,
            address,
            owed,
            amount=amount,
            method=method,
            error=error,
            method_error=method_error,
            status=status,
        )

    _ = gettext_for(request, actor)
    choices = _choices(settings, gateway)
    if not choices:
        return again(_("Card payments are not available on this server. Pay at a bank or an office."), 422)
    chosen = (method or "").strip() or _the_only_one(choices, owed)
    if chosen is None:
        return again(None, 422, method_error=_("Choose how to pay."))
    if chosen not in choices:
        return again(None, 422, method_error=_("This way of paying is not available here. Choose another."))
    if chosen == CARD:
        assert gateway is not None
        return _pay_by_card(request, session, actor, gateway, apartment_id, amount, form_key, owed, again)
    provider = Gateway(chosen)
    error = _merchant_amount_error(request, actor, settings, provider, amount)
    if error is not None:
        return again(error, 422)
    minor = _minor(request, actor, amount)
    assert minor is not None
    try:
        attempt = checkouts.open_checkout(
            session,
            settings,
            provider,
            apartment_id=apartment_id,
            amount_minor=minor,
            user_id=actor.user_id,
            client_key=form_key,
        )
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, Conflict):
            return again(_sent_before(request, actor), 409)
        return again(exc.detail, exc.status)
    session.commit()  # the payment exists before the provider's first call looks for it
    link = checkout_link(request, settings, actor, attempt, apartment.account_number)
    return RedirectResponse(link, status_code=303)


def _pay_by_card(
    request: Request,
    session: Session,
    actor: Actor,
    gateway: PaymentGateway,
    apartment_id: int,
    amount: str,
    form_key: str,
    owed: int,
    again,
) -> Response:
    """Opens the card payment (the idempotency key saved before Stripe hears of it) and shows its page."""
    error = _card_amount_error(request, actor, amount, owed)
    if error is not None:
        return again(error, 422)
    minor = _minor(request, actor, amount)
    assert minor is not None
    try:
        attempt, _ = payments.open_card_payment(
            session, apartment_id=apartment_id, amount_minor=minor, user_id=actor.user_id, client_key=form_key
        )
        if attempt.gateway != Gateway.stripe:  # the same form sent before for Payme or Click
            raise Conflict("this form was already sent for another way of paying")
        session.commit()  # the idempotency key is saved before Stripe hears of the payment
        if attempt.external_id is None:
            payments.send_card_payment(session, gateway, attempt)
    except DomainError as exc:
        if isinstance(exc, Invalid):
            session.commit()  # a refused card leaves the attempt failed with Stripe's message: keep it
        else:
            session.rollback()
        if isinstance(exc, Conflict):
            return again(_sent_before(request, actor), 409)
        return again(exc.detail, exc.status)
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
    """Where the payer enters the card, or comes back from Payme or Click, and reads how the payment went."""
    if checkouts.is_merchant(attempt.gateway):
        return _provider_payment_page(request, session, settings, actor, attempt)
    if gateway is not None and attempt.gateway == Gateway.stripe:
        payments.refresh_card_payment(session, gateway, attempt)
    status = PaymentStatus(attempt.status)
    can_pay = (
        gateway is not None
        and attempt.gateway == Gateway.stripe
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


def _provider_payment_page(
    request: Request, session: Session, settings: Settings, actor: Actor, attempt: PaymentAttempt
) -> Response:
    """A Payme or Click payment as the provider last told us; never a call to anyone."""
    status = PaymentStatus(attempt.status)
    waiting = status in (PaymentStatus.created, PaymentStatus.pending)
    checkout = None
    if (
        status is PaymentStatus.created
        and attempt.created_by_id == actor.user_id
        and Gateway(attempt.gateway) in merchant.configured_gateways(settings)
    ):
        apartment = session.get(Apartment, attempt.apartment_id)
        assert apartment is not None
        checkout = checkout_link(request, settings, actor, attempt, apartment.account_number)
    refresh = waiting and clock.now() - attempt.created_at < REFRESH_FOR
    return render(
        request,
        "billing/payment.html",
        actor=actor,
        payment=attempt,
        can_pay=False,
        provider=checkouts.PROVIDER_NAMES[Gateway(attempt.gateway)],
        checkout_url=checkout,
        refresh_seconds=REFRESH_SECONDS if refresh else None,
    )


def _choices(settings: Settings, gateway: PaymentGateway | None) -> list[str]:
    """The ways of paying this server has, in the order the form shows them."""
    return ([CARD] if gateway is not None else []) + [str(g) for g in merchant.configured_gateways(settings)]


def _offered(choices: list[str], owed: int) -> list[str]:
    """What the form offers: a card pays at most the debt, so not when nothing is owed."""
    return [c for c in choices if c != CARD or owed > 0]


def _the_only_one(choices: list[str], owed: int) -> str | None:
    """The way of paying a form that names none means: the only one offered, or configured."""
    offered = _offered(choices, owed)
    if len(offered) == 1:
        return offered[0]
    return choices[0] if len(choices) == 1 else None


def _pay_page(
    request: Request,
    actor: Actor,
    settings: Settings,
    gateway: PaymentGateway | None,
    apartment: Apartment,
    address: str,
    owed: int,
    *,
    amount: str,
    method: str | None,
    error: str | None,
    method_error: str | None = None,
    status: int = 200,
) -> Response:
    choices = _choices(settings, gateway)
    offered = _offered(choices, owed)
    chosen = method if method in offered else (offered[0] if len(offered) == 1 else None)
    providers = merchant.configured_gateways(settings)
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
        method_error=method_error,
        form_key=uuid.uuid4().hex,
        any_method=bool(choices),
        methods=offered,
        chosen=chosen,
        card_only=offered == [CARD],
        providers=[checkouts.PROVIDER_NAMES[g] for g in providers],
        limits=[(checkouts.PROVIDER_NAMES[g], merchant.limits_of(settings, g)) for g in providers],
        is_resident=actor.role is Role.resident,
    )


def _minor(request: Request, actor: Actor, amount: str) -> int | None:
    """The typed amount in tiyin, read the way the page's language writes numbers."""
    language = request_language(request, actor.language)
    try:
        value = parse_decimal(amount.strip(), locale=i18n.babel_locale(language))
        if not value.is_finite() or value != value.quantize(Decimal("0.01")):
            return None
    except (NumberFormatError, InvalidOperation):  # not a number, or too many digits to be money
        return None
    return int(value.scaleb(2))


def _sent_before(request: Request, actor: Actor) -> str:
    """A form key already used for another payment: the page comes back with a fresh one."""
    _ = gettext_for(request, actor)
    return _("This form was already sent with other details. Check them and send it again.")


def _card_amount_error(request: Request, actor: Actor, amount: str, owed: int) -> str | None:
    _ = gettext_for(request, actor)
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


def _merchant_amount_error(
    request: Request, actor: Actor, settings: Settings, provider: Gateway, amount: str
) -> str | None:
    """Within the provider's limits; more than is owed is fine (the rest is prepayment)."""
    _ = gettext_for(request, actor)
    minor = _minor(request, actor, amount)
    if minor is None:
        return _("Enter the amount in som, for example 150000 or 150000,50.")
    if minor <= 0:
        return _("The amount must be more than zero.")
    limits = merchant.limits_of(settings, provider)
    language = request_language(request, actor.language)
    name = checkouts.PROVIDER_NAMES[provider]
    if minor < limits.min_minor:
        return _("One payment through %(provider)s must be at least %(limit)s.") % {
            "provider": name,
            "limit": i18n.money(limits.min_minor, DEFAULT_CURRENCY, language),
        }
    if minor > limits.max_minor:
        return _(
            "One payment through %(provider)s can be at most %(limit)s; pay the rest in a second payment."
        ) % {
            "provider": name,
            "limit": i18n.money(limits.max_minor, DEFAULT_CURRENCY, language),
        }
    return None
