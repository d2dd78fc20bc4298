"""HTML routes of the resident's accounts: apartments and balances, invoices, and paying by card.

Every page is a few queries whatever the number of rows (balances and latest invoices in
one query each, for the apartments of one page). The apartments are paged: a resident has
one or two, but an official or an admin sees the whole city on the same page. Paying is
two steps: the amount is an ordinary form (POST, then 303 to the payment's page), and the
card itself is entered on the payment's page with Stripe.js, the one part that needs
JavaScript (`static/pay.js`).
"""

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated

from babel.numbers import NumberFormatError, parse_decimal
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from billing.invoices.line_words import source_text
from billing.ledger.service import balances
from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceLine, PaymentAttempt, PaymentStatus, Service
from billing.payments import service as payments
from billing.payments.gateway import MAX_CHARGE_MINOR, PaymentGateway
from billing.tariffs.queries import visible_invoices, visible_payments
from housing import i18n
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import DomainError, Forbidden, Invalid, NotFound
from housing.registry.models import Apartment, Building
from housing.registry.queries import visible_apartments
from housing.routing import one_visible, page_of
from housing.validation import Id, PageNumber, Text
from housing.web import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50  # apartments a page
HISTORY = 36  # invoices listed on an apartment's page: three years
RECENT_PAYMENTS = 10
OPEN = (PaymentStatus.created, PaymentStatus.pending, PaymentStatus.failed)


@router.get("/apartments", response_class=HTMLResponse)
def my_apartments(
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    scope = visible_apartments(actor, today)
    paging = page_of(session, scope, page, PAGE_SIZE)
    rows = session.execute(  # execute, not exec: two columns, not scalars
        scope.add_columns(Building.address)
        .join(Building, Building.id == Apartment.building_id)
        .order_by(Building.address, Apartment.number, Apartment.id)
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE)
    ).all()
    ids = [apartment.id for apartment, _ in rows]
    latest = _latest_invoices(session, ids)
    return render(
        request,
        "billing/apartments.html",
        actor=actor,
        homes=[
            {"apartment": apartment, "address": address, "invoice": latest.get(apartment.id)}
            for apartment, address in rows
        ],
        owed=balances(session, ids),
        currency=DEFAULT_CURRENCY,
        paging=paging,
    )


@router.get("/apartments/{apartment_id}", response_class=HTMLResponse)
def apartment_page(
    apartment_id: Id, request: Request, session: SessionDep, actor: CurrentActor, today: Today
) -> Response:
    apartment, address = _apartment(session, actor, today, apartment_id)
    invoices = session.exec(
        visible_invoices(actor, today)
        .where(Invoice.apartment_id == apartment_id)
        .order_by(col(Invoice.period).desc(), col(Invoice.id).desc())
        .limit(HISTORY)
    ).all()
    recent = session.exec(
        visible_payments(actor, today)
        .where(PaymentAttempt.apartment_id == apartment_id)
        .order_by(col(PaymentAttempt.id).desc())
        .limit(RECENT_PAYMENTS)
    ).all()
    return render(
        request,
        "billing/apartment.html",
        actor=actor,
        apartment=apartment,
        address=address,
        owed=balances(session, [apartment_id])[apartment_id],
        currency=DEFAULT_CURRENCY,
        current=invoices[0] if invoices else None,
        invoices=invoices,
        payments=recent,
    )


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
def invoice_page(
    invoice_id: Id, request: Request, session: SessionDep, actor: CurrentActor, today: Today
) -> Response:
    invoice = one_visible(session, visible_invoices(actor, today), Invoice, invoice_id, "invoice")
    lines = session.exec(
        select(InvoiceLine, Service)
        .join(Service, Service.id == InvoiceLine.service_id)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.id)
    ).all()
    _, address = _apartment(session, actor, today, invoice.apartment_id)
    return render(
        request,
        "billing/invoice.html",
        actor=actor,
        invoice=invoice,
        lines=lines,
        sources={
            line.id: source_text(
                line.quantity_source, line.explanation, request_language(request, actor.language)
            )
            for line, _ in lines
        },
        address=address,
        deductions=sum(line.deduction_minor for line, _ in lines),
    )


@router.get("/apartments/{apartment_id}/pay", response_class=HTMLResponse)
def pay_form(
    apartment_id: Id, request: Request, session: SessionDep, actor: CurrentActor, today: Today
) -> Response:
    apartment, address = _apartment(session, actor, today, apartment_id)
    owed = balances(session, [apartment_id])[apartment_id]
    language = request_language(request, actor.language)
    amount = i18n.number(Decimal(owed).scaleb(-2), language) if owed > 0 else ""
    return _pay_page(request, actor, apartment, address, owed, amount=amount, error=None)


@router.post("/apartments/{apartment_id}/pay", response_class=HTMLResponse)
def pay_submit(
    apartment_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    amount: Annotated[Text, Form(max_length=40)],
    form_key: Annotated[Text, Form(max_length=100)],
) -> Response:
    """Opens the card payment (once per form, whatever the number of clicks) and shows its page."""
    apartment, address = _apartment(session, actor, today, apartment_id)
    owed = balances(session, [apartment_id])[apartment_id]
    gateway = _gateway(request)
    error = _amount_error(request, actor, amount, owed, gateway)
    if error is not None:
        return _pay_page(request, actor, apartment, address, owed, amount=amount, error=error, status=422)
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
            request, actor, apartment, address, owed, amount=amount, error=exc.detail, status=exc.status
        )
    return RedirectResponse(f"/payments/{attempt.id}", status_code=303)


@router.get("/payments/{payment_id}", response_class=HTMLResponse)
def payment_page(
    payment_id: Id, request: Request, session: SessionDep, actor: CurrentActor, today: Today
) -> Response:
    """Where the payer enters the card, and then reads how the payment went."""
    attempt = one_visible(session, visible_payments(actor, today), PaymentAttempt, payment_id, "payment")
    gateway = _gateway(request)
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
        js_url=request.app.state.settings.stripe.js_url,
        publishable_key=gateway.publishable_key if gateway else None,
    )


def _apartment(session: Session, actor: Actor, today: date, apartment_id: int) -> tuple[Apartment, str]:
    row = session.execute(  # execute, not exec: two columns, not scalars
        visible_apartments(actor, today)
        .add_columns(Building.address)
        .join(Building, Building.id == Apartment.building_id)
        .where(Apartment.id == apartment_id)
    ).first()
    if row is None:  # outside the actor's scope reads as missing, so ids do not leak
        raise NotFound(f"apartment {apartment_id} not found")
    apartment, address = row
    return apartment, address


def _latest_invoices(session: Session, apartment_ids: list[int]) -> dict[int, Invoice]:
    """Each apartment's newest invoice, in one query."""
    newest = (
        select(Invoice.apartment_id, func.max(Invoice.period).label("period"))
        .where(col(Invoice.apartment_id).in_(apartment_ids))
        .group_by(Invoice.apartment_id)
        .subquery()
    )
    rows = session.exec(
        select(Invoice).join(
            newest, (Invoice.apartment_id == newest.c.apartment_id) & (Invoice.period == newest.c.period)
        )
    ).all()
    return {invoice.apartment_id: invoice for invoice in rows}


def _gateway(request: Request) -> PaymentGateway | None:
    return request.app.state.payment_gateway


def _pay_page(
    request: Request,
    actor: Actor,
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
        card_payments=_gateway(request) is not None,
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
