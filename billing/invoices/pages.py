"""HTML routes of the resident's accounts: apartments and balances, and invoices (paying by
card is `billing.payments.pages`).

Every page is a few queries whatever the number of rows (balances and latest invoices in
one query each, for the apartments of one page). The apartments are paged: a resident has
one or two, but an official or an admin sees the whole city on the same page.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from billing.invoices.line_words import source_text
from billing.invoices.queries import VisibleAccount, VisibleInvoice, account_address, visible_invoices
from billing.ledger.service import balances, penalty_payer
from billing.models import (
    DEFAULT_CURRENCY,
    InstalmentPlan,
    InstalmentPlanInvoice,
    Invoice,
    InvoiceLine,
    PaymentAttempt,
    PlanStatus,
    Service,
)
from billing.payments.queries import visible_payments
from billing.rules import BillingRules
from housing.accounts.models import Role
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.registry.models import Apartment, Building, PersonKind
from housing.registry.queries import visible_apartments
from housing.routing import page_of
from housing.settings import Settings
from housing.validation import PageNumber
from housing.web import render, request_language

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50  # apartments a page
HISTORY = 36  # invoices listed on an apartment's page: three years
RECENT_PAYMENTS = 10


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
    apartment: VisibleAccount,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    settings: SettingsDep,
) -> Response:
    apartment_id = apartment.id
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
        address=account_address(session, apartment_id),
        owed=balances(session, [apartment_id])[apartment_id],
        currency=DEFAULT_CURRENCY,
        current=invoices[0] if invoices else None,
        invoices=invoices,
        has_plan=session.exec(
            select(InstalmentPlan.id).where(InstalmentPlan.apartment_id == apartment_id)
        ).first()
        is not None,
        payments=recent,
        # Payme and Click take more than is owed (prepayment): a resident may pay with nothing owed.
        can_pay_ahead=actor.role is Role.resident
        and (settings.payme.configured or settings.click.configured),
    )


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
def invoice_page(
    invoice: VisibleInvoice,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    settings: SettingsDep,
) -> Response:
    lines = session.exec(
        select(InvoiceLine, Service)
        .join(Service, Service.id == InvoiceLine.service_id)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.id)
    ).all()
    address = account_address(session, invoice.apartment_id)
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
        penalty=_penalty_terms(session, invoice, today, settings),
    )


def _penalty_terms(session: Session, invoice: Invoice, today: date, settings: Settings) -> dict[str, Any]:
    """The late penalty's rate and cap that apply to the invoice's account today, and the plan
    (if any, recorded as active) that covers it."""
    organisation = penalty_payer(session, invoice.apartment_id, today) is PersonKind.organisation
    applying = BillingRules.from_settings(settings).penalties.applying(organisation)
    plan_id = session.exec(
        select(InstalmentPlan.id)
        .join(InstalmentPlanInvoice, col(InstalmentPlanInvoice.plan_id) == InstalmentPlan.id)
        .where(InstalmentPlanInvoice.invoice_id == invoice.id, InstalmentPlan.status == PlanStatus.active)
    ).first()
    return {
        "organisation": organisation,
        "rate": applying.percent(),
        "cap": applying.cap_percent(),
        "plan_id": plan_id,
    }


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
