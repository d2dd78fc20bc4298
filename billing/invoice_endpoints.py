"""JSON routes of invoices, account balances and billing runs.

Residents see the invoices and balances of the apartments they own or live in, company
staff those of the buildings their company manages, admins and officials the whole city;
anything else is 404. Only admins start a billing run (a dry run by default).
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlmodel import select

from billing import queries
from billing.invoice_schemas import (
    AdjustmentCreate,
    BalanceRead,
    BillingRunCreate,
    BillingRunRead,
    InvoiceDetail,
    InvoiceLineRead,
    InvoiceRead,
    LedgerEntryRead,
    Period,
    period_start,
)
from billing.ledger import adjust_line, balance
from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceLine, InvoiceStatus, LedgerEntry
from billing.runs import run_billing
from housing.auth import AdminActor, CurrentActor, RegistrarActor
from housing.clock import Today
from housing.db import SessionDep
from housing.errors import NotFound
from housing.registry.models import Apartment
from housing.registry.queries import visible_apartments
from housing.routing import Paging, one_visible, paginate
from housing.schemas import API_PROBLEMS, Page
from housing.validation import Id

router = APIRouter(tags=["billing"], responses=API_PROBLEMS)


@router.get("/invoices", response_model=Page[InvoiceRead])
def list_invoices(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    apartment_id: Annotated[Id | None, Query()] = None,
    period: Annotated[Period | None, Query()] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
):
    """Newest period first."""
    query = queries.visible_invoices(actor, today)
    if apartment_id is not None:
        query = query.where(Invoice.apartment_id == apartment_id)
    if period is not None:
        query = query.where(Invoice.period == period_start(period))
    if status is not None:
        query = query.where(Invoice.status == status)
    return paginate(session, query.order_by(Invoice.period.desc()), paging, Invoice.id.desc())


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail)
def read_invoice(invoice_id: Id, session: SessionDep, actor: CurrentActor, today: Today):
    invoice = one_visible(session, queries.visible_invoices(actor, today), Invoice, invoice_id, "invoice")
    lines = session.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.id)
    ).all()
    return InvoiceDetail.model_validate(invoice).model_copy(
        update={"lines": [InvoiceLineRead.model_validate(line) for line in lines]}
    )


@router.get("/apartments/{apartment_id}/balance", response_model=BalanceRead)
def read_balance(apartment_id: Id, session: SessionDep, actor: CurrentActor, today: Today):
    one_visible(session, visible_apartments(actor, today), Apartment, apartment_id, "apartment")
    owed = balance(session, apartment_id)
    return BalanceRead(
        apartment_id=apartment_id,
        balance_minor=owed,
        currency=DEFAULT_CURRENCY,
        debt=owed > 0,
        credit_minor=max(-owed, 0),
    )


@router.get("/apartments/{apartment_id}/ledger", response_model=Page[LedgerEntryRead])
def read_ledger(apartment_id: Id, session: SessionDep, actor: CurrentActor, today: Today, paging: Paging):
    """Every charge, payment, penalty, adjustment and refund of the account, newest first."""
    one_visible(session, visible_apartments(actor, today), Apartment, apartment_id, "apartment")
    query = select(LedgerEntry).where(LedgerEntry.apartment_id == apartment_id)
    return paginate(session, query.order_by(LedgerEntry.occurred_at.desc()), paging, LedgerEntry.id.desc())


@router.post(
    "/invoices/{invoice_id}/lines/{line_id}/adjustments",
    response_model=LedgerEntryRead,
    status_code=status.HTTP_201_CREATED,
)
def adjust_invoice_line(
    invoice_id: Id,
    line_id: Id,
    body: AdjustmentCreate,
    session: SessionDep,
    actor: RegistrarActor,
    today: Today,
):
    """Corrects a line of an issued invoice with a ledger adjustment naming it; the invoice stays as issued."""
    one_visible(session, queries.visible_invoices(actor, today), Invoice, invoice_id, "invoice")
    line = session.get(InvoiceLine, line_id)
    if line is None or line.invoice_id != invoice_id:
        raise NotFound(f"line {line_id} of invoice {invoice_id} not found")
    return adjust_line(
        session, line_id=line_id, amount_minor=body.amount_minor, reason=body.reason, user_id=actor.user_id
    )


@router.post("/billing/runs", response_model=BillingRunRead)
def start_billing_run(
    body: BillingRunCreate, request: Request, session: SessionDep, actor: AdminActor, today: Today
):
    """Bills a month that has ended; a dry run (the default) lists the would-be invoices and writes nothing.

    A real run issues every missing invoice of the month in this request's transaction.
    """
    summary = run_billing(
        session,
        period=period_start(body.period),
        today=today,
        dry_run=body.dry_run,
        timezone=request.app.state.settings.timezone,
    )
    return BillingRunRead.of(summary)
