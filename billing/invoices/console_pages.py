"""HTML routes of the company console's money: debtors (and the same list as CSV) and the billing run.

Debtors are the accounts that owe something (ledger balance > 0), each with the due date of
its oldest invoice not yet paid and the days since; one query for a page whatever its size.
The CSV is the page's rows, columns and order, written by the one CSV writer (housing.csvtext).

The billing run follows the API's rule (billing/invoices/endpoints.py): only admins start one.
A preview is a dry run (GET: it writes nothing); issuing is a POST, then a redirect to the
period's page.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, func, nulls_last
from sqlmodel import Session, col, select

from billing.invoices.schemas import period_start
from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceStatus, LedgerEntry
from billing.rules import BillingRules
from billing.runs.service import RunSummary, run_billing
from housing.actors import Actor
from housing.auth import AdminActor, StaffActor
from housing.csvtext import csv_text
from housing.dashboard import csv_response
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import DomainError
from housing.registry.models import Apartment, Building
from housing.registry.queries import visible_apartments
from housing.routing import page_of
from housing.validation import Id, PageNumber, Text
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
UNPAID = (InvoiceStatus.issued, InvoiceStatus.partially_paid)
SORTS = ("amount", "amount_asc", "days")
PREVIEW_INVOICES = 20

# The same rule as POST /api/v1/billing/runs.


@dataclass(frozen=True)
class Debtor:
    apartment_id: Id
    address: str
    number: str
    account_number: str
    owed_minor: int
    oldest_due: date | None
    days_overdue: int


def _debtors_query(actor: Actor, today: date, sort: str) -> Select:
    apartments = visible_apartments(actor, today).with_only_columns(Apartment.id)
    owed = (
        select(LedgerEntry.apartment_id, func.sum(LedgerEntry.amount_minor).label("owed"))
        .where(col(LedgerEntry.apartment_id).in_(apartments))
        .group_by(LedgerEntry.apartment_id)
        .having(func.sum(LedgerEntry.amount_minor) > 0)
        .subquery()
    )
    oldest = (
        select(Invoice.apartment_id, func.min(Invoice.due_date).label("due"))
        .where(col(Invoice.status).in_(UNPAID), col(Invoice.apartment_id).in_(apartments))
        .group_by(Invoice.apartment_id)
        .subquery()
    )
    query = (
        select(
            Apartment.id,
            Building.address,
            Apartment.number,
            Apartment.account_number,
            owed.c.owed,
            oldest.c.due,
        )
        .join(owed, owed.c.apartment_id == Apartment.id)
        .join(Building, Building.id == Apartment.building_id)
        .outerjoin(oldest, oldest.c.apartment_id == Apartment.id)
    )
    if sort == "days":
        return query.order_by(nulls_last(oldest.c.due.asc()), owed.c.owed.desc(), Apartment.id)
    if sort == "amount_asc":
        return query.order_by(owed.c.owed.asc(), Apartment.id)
    return query.order_by(owed.c.owed.desc(), Apartment.id)


def _debtors(session: Session, actor: Actor, today: date, sort: str, page: int) -> tuple[list[Debtor], dict]:
    query = _debtors_query(actor, today, sort)
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = session.execute(query.limit(PAGE_SIZE).offset((paging["page"] - 1) * PAGE_SIZE)).all()
    debtors = [
        Debtor(
            apartment_id=apartment_id,
            address=address,
            number=number,
            account_number=account,
            owed_minor=int(owed),
            oldest_due=due,
            days_overdue=max((today - due).days, 0) if due else 0,
        )
        for apartment_id, address, number, account, owed, due in rows
    ]
    return debtors, paging


@dataclass(frozen=True)
class DebtorList:
    """A page of debtors in the order asked for (an unknown sort reads as the default)."""

    debtors: list[Debtor]
    paging: dict
    sort: str


def _debtor_list(
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    sort: Annotated[Text, Query(max_length=20)] = "amount",
    page: PageNumber = 1,
) -> DebtorList:
    sort = sort if sort in SORTS else "amount"
    return DebtorList(*_debtors(session, actor, today, sort, page), sort=sort)


Debtors = Annotated[DebtorList, Depends(_debtor_list)]


@router.get("/console/debtors", response_class=HTMLResponse)
def debtors_page(request: Request, actor: StaffActor, listed: Debtors) -> Response:
    debtors, paging, sort = listed.debtors, listed.paging, listed.sort
    return render(
        request,
        "billing/debtors.html",
        actor=actor,
        debtors=debtors,
        paging=paging,
        sort=sort,
        currency=DEFAULT_CURRENCY,
        query_string=f"sort={sort}",
    )


@router.get("/console/debtors.csv")
def debtors_csv(request: Request, actor: StaffActor, today: Today, listed: Debtors) -> Response:
    """The rows the page shows for the same sort and page, with the page's columns."""
    debtors, paging, sort = listed.debtors, listed.paging, listed.sort
    _ = gettext_for(request, actor)
    header = [
        _("Address"),
        _("Apartment"),
        _("Personal account"),
        _("Owed"),
        _("Currency"),
        _("Oldest unpaid due date"),
        _("Days overdue"),
    ]
    rows = (
        [
            debtor.address,
            debtor.number,
            debtor.account_number,
            _som(debtor.owed_minor),
            DEFAULT_CURRENCY,
            debtor.oldest_due.isoformat() if debtor.oldest_due else "",
            debtor.days_overdue,
        ]
        for debtor in debtors
    )
    name = f"debtors-{today.isoformat()}-{sort}-page-{paging['page']}.csv"
    return csv_response(csv_text(header, rows), name)


def _som(minor: int) -> Decimal:
    """Tiyin as a plain decimal number of som (1234.50), exact, for a spreadsheet: a number, so
    that the CSV writer keeps a credit (-15.00) numeric instead of quoting it as text."""
    return Decimal(minor).scaleb(-2)


# The billing run


@router.get("/console/billing", response_class=HTMLResponse)
def billing_page(
    request: Request,
    session: SessionDep,
    actor: AdminActor,
    today: Today,
    period: Annotated[Text, Query(max_length=7)] = "",
    issued: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """The form; with a period, the dry run's preview (counts, totals, warnings) under it."""
    summary, error = None, None
    if period:
        summary, error = _preview(request, session, actor, today, period)
    return _billing_page(request, session, actor, today, period, summary, error, issued=bool(issued))


@router.post("/console/billing", response_class=HTMLResponse)
def issue_invoices(
    request: Request,
    session: SessionDep,
    actor: AdminActor,
    today: Today,
    period: Annotated[Text, Form(max_length=7)] = "",
) -> Response:
    _ = gettext_for(request, actor)
    if not _is_month(period):
        error = _("Choose a month, for example 2026-10.")
        return _billing_page(request, session, actor, today, period, None, error, status=422)
    try:
        summary = run_billing(
            session,
            period=period_start(period),
            today=today,
            dry_run=False,
            timezone=request.app.state.settings.timezone,
            rules=BillingRules.from_settings(request.app.state.settings),
        )
    except DomainError:
        session.rollback()
        error = _("That month has not ended yet; a month is billed once it is over.")
        return _billing_page(request, session, actor, today, period, None, error, status=422)
    if summary.locked_out:
        error = _("Another billing run is working right now. Try again in a few minutes.")
        return _billing_page(request, session, actor, today, period, None, error, status=409)
    return RedirectResponse(f"/console/billing?period={period}&issued=1", status_code=303)


def _is_month(period: str) -> bool:
    try:
        period_start(period)
    except ValueError:
        return False
    return True


def _preview(
    request: Request, session: Session, actor: Actor, today: date, period: str
) -> tuple[RunSummary | None, str | None]:
    _ = gettext_for(request, actor)
    if not _is_month(period):
        return None, _("Choose a month, for example 2026-10.")
    try:
        summary = run_billing(
            session,
            period=period_start(period),
            today=today,
            dry_run=True,
            timezone=request.app.state.settings.timezone,
            rules=BillingRules.from_settings(request.app.state.settings),
        )
    except DomainError:
        session.rollback()
        return None, _("That month has not ended yet; a month is billed once it is over.")
    return summary, None


def _billing_page(
    request: Request,
    session: Session,
    actor: Actor,
    today: date,
    period: str,
    summary: RunSummary | None,
    error: str | None,
    *,
    issued: bool = False,
    status: int | None = None,
) -> Response:
    billed = None
    if _is_month(period or ""):
        count, total = session.execute(
            select(func.count(), func.coalesce(func.sum(Invoice.total_minor), 0)).where(
                Invoice.period == period_start(period), col(Invoice.status) != InvoiceStatus.void
            )
        ).one()
        billed = {"count": count, "total": int(total)}
    return render(
        request,
        "billing/run.html",
        status_code=status or (422 if error else 200),
        actor=actor,
        period=period,
        summary=summary,
        error=error,
        issued=issued,
        billed=billed,
        currency=DEFAULT_CURRENCY,
        preview_invoices=PREVIEW_INVOICES,
        last_month=f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}",
    )
