"""HTML routes of the company console's debtors: the page and the same rows as CSV.

Debtors are the accounts that owe something (ledger balance > 0), each with the due date of
its oldest invoice not yet paid and the days since; one query for a page whatever its size.
The CSV is the page's rows, columns and order, written by the one CSV writer (housing.csvtext).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Select, func, nulls_last
from sqlmodel import Session, col, select

from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceStatus, LedgerEntry
from housing.actors import Actor
from housing.auth import StaffActor
from housing.csvtext import csv_text
from housing.dashboard import csv_response
from housing.db import SessionDep
from housing.deps import Today
from housing.registry.models import Apartment, Building
from housing.registry.queries import visible_apartments
from housing.routing import page_of
from housing.validation import Id, PageNumber, Text
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
UNPAID = (InvoiceStatus.issued, InvoiceStatus.partially_paid)
SORTS = ("amount", "amount_asc", "days")


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
