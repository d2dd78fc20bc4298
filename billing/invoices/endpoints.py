"""JSON routes of invoices, account balances and billing runs.

Residents see the invoices and balances of the apartments they own or live in, company
staff those of the buildings their company manages, admins and officials the whole city;
anything else is 404. Only admins start a billing run (a dry run by default).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from sqlmodel import select

from billing.invoices.line_words import source_text
from billing.invoices.queries import VisibleAccount, VisibleInvoice, VisibleInvoiceLine, visible_invoices
from billing.invoices.schemas import (
    AdjustmentCreate,
    BalanceRead,
    BillingRunCreate,
    BillingRunRead,
    InvoiceDetail,
    InvoiceLineRead,
    InvoiceRead,
    LedgerEntryRead,
    MeterMonthRead,
    Period,
    period_start,
)
from billing.ledger.service import adjust_line, balance, penalty_payer
from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceLine, InvoiceStatus, LedgerEntry, Service
from billing.rules import BillingRules
from billing.runs.estimates import preview_meter_month
from billing.runs.service import check_period, run_billing
from housing import actors
from housing.auth import CurrentActor, RegistrarActor, require_roles
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Invalid, NotFound
from housing.registry.models import PersonKind
from housing.routing import Paging, paginate
from housing.schemas import API_PROBLEMS, Page
from housing.validation import Id
from housing.web import request_language
from sensors.meters.queries import visible_meter

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
    query = visible_invoices(actor, today)
    if apartment_id is not None:
        query = query.where(Invoice.apartment_id == apartment_id)
    if period is not None:
        query = query.where(Invoice.period == period_start(period))
    if status is not None:
        query = query.where(Invoice.status == status)
    return paginate(session, query.order_by(Invoice.period.desc()), paging, Invoice.id.desc())


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail)
def read_invoice(
    invoice: VisibleInvoice,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
):
    """One invoice with its lines; each line says in words how its quantity was obtained. The late
    penalty's rate and cap are those that apply to the account today."""
    lines = session.exec(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.id)
    ).all()
    language = request_language(request, actor.language)
    payer = penalty_payer(session, invoice.apartment_id, today)
    applying = BillingRules.from_settings(settings).penalties.applying(payer == PersonKind.organisation)
    return InvoiceDetail.model_validate(invoice).model_copy(
        update={
            "penalty_rate": applying.percent(),
            "penalty_cap": applying.cap_percent(),
            "penalty_payer": payer,
            "lines": [
                InvoiceLineRead.model_validate(line).model_copy(
                    update={"source_text": source_text(line.quantity_source, line.explanation, language)}
                )
                for line in lines
            ],
        }
    )


@router.get("/apartments/{apartment_id}/balance", response_model=BalanceRead)
def read_balance(apartment: VisibleAccount, session: SessionDep):
    owed = balance(session, apartment.id)
    return BalanceRead(
        apartment_id=apartment.id,
        balance_minor=owed,
        currency=DEFAULT_CURRENCY,
        debt=owed > 0,
        credit_minor=max(-owed, 0),
    )


@router.get("/apartments/{apartment_id}/ledger", response_model=Page[LedgerEntryRead])
def read_ledger(apartment: VisibleAccount, session: SessionDep, paging: Paging):
    """Every charge, payment, penalty, adjustment and refund of the account, newest first."""
    query = select(LedgerEntry).where(LedgerEntry.apartment_id == apartment.id)
    return paginate(session, query.order_by(LedgerEntry.occurred_at.desc()), paging, LedgerEntry.id.desc())


@router.post(
    "/invoices/{invoice_id}/lines/{line_id}/adjustments",
    response_model=LedgerEntryRead,
    status_code=status.HTTP_201_CREATED,
)
def adjust_invoice_line(
    body: AdjustmentCreate, session: SessionDep, actor: RegistrarActor, line: VisibleInvoiceLine
):
    """Corrects a line of an issued invoice with a ledger adjustment naming it; the invoice stays as issued."""
    return adjust_line(
        session, line_id=line.id, amount_minor=body.amount_minor, reason=body.reason, user_id=actor.user_id
    )


@router.post(
    "/billing/runs", response_model=BillingRunRead, dependencies=[Depends(require_roles(actors.ADMINS))]
)
def start_billing_run(body: BillingRunCreate, session: SessionDep, settings: SettingsDep, today: Today):
    """Bills a month that has ended; a dry run (the default) lists the would-be invoices and writes nothing.

    A real run issues every missing invoice of the month in this request's transaction.
    """
    summary = run_billing(
        session,
        period=period_start(body.period),
        today=today,
        dry_run=body.dry_run,
        timezone=settings.timezone,
        rules=BillingRules.from_settings(settings),
    )
    return BillingRunRead.of(summary)


@router.get("/meters/{meter_id}/billing-preview", response_model=MeterMonthRead)
def preview_meter_billing(
    meter_id: Id,
    period: Annotated[Period, Query()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    today: Today,
):
    """How the monthly run would bill this apartment meter's month (metered, with an estimated
    boundary, by the average or by the norm) and which earlier months it would recalculate.

    The same rule as the run, worked out for this meter alone; nothing is written.
    """
    meter = visible_meter(session, actor, today, meter_id)  # after the period: 422 before 404
    if meter.apartment_id is None:
        raise Invalid("a building's common meter is billed to its apartments by area", field="meter_id")
    service = session.exec(
        select(Service).where(Service.meter_kind == meter.kind).order_by(Service.id)
    ).first()
    if service is None or service.id is None:
        raise NotFound(f"no service bills {meter.kind} meters")
    month = period_start(period)
    check_period(month, today, settings.timezone)
    preview = preview_meter_month(
        session,
        meter,
        service.id,
        month,
        timezone=settings.timezone,
        tolerance=settings.meters.boundary_tolerance,
    )
    estimate = preview.estimate
    explanation = {
        "estimated_hours": None if estimate.estimated_hours is None else str(estimate.estimated_hours)
    }
    return MeterMonthRead(
        meter_id=meter.id,
        service=service.code,
        period=period,
        quantity_source=estimate.label,
        source_text=source_text(estimate.label, explanation, request_language(request, actor.language)),
        quantity=estimate.quantity,
        estimated_hours=estimate.estimated_hours,
        why=estimate.why,
        average_period=estimate.average_period,
        recalculation_months=[f"{m:%Y-%m}" for m in preview.recalculation_months],
        recalculation_quantity=preview.recalculation_quantity,
    )
