"""HTML routes of payments in the company console.

- `/console/payments`: the payments of the apartments the staff member sees, newest first, with
  each one's provider and transaction id; filtered by gateway and by the day it was paid on.
- `/console/payments/daily`: per gateway and city day, how many were paid, for how much, and
  what went back (the same figures as `GET /api/v1/payments/daily`).
- `/console/payments/reconciliation`: each gateway's days as last reconciled and what did not
  agree; managers and admins upload a provider's statement file there (POST, then 303 back).

The city dashboard's page of payments is `city_pages.py`. GET forms filter; an empty choice means no filter. Server-rendered, no JavaScript needed.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select
from sqlmodel import Session, col, select

from billing.models import (
    DEFAULT_CURRENCY,
    Gateway,
    PaymentAttempt,
    ReconciliationDifference,
    ReconciliationRun,
)
from billing.payments.queries import visible_payments
from billing.payments.reconciliation import daily
from billing.payments.reconciliation.endpoints import import_statement_upload
from billing.payments.reconciliation.queries import payment_scope, visible_differences
from billing.payments.reconciliation.rules import Kind
from billing.payments.reconciliation.schemas import StatementGateway
from billing.payments.reconciliation.statement import MAX_STATEMENT_BYTES
from housing.actors import REGISTRARS, Actor
from housing.auth import RegistrarActor, StaffActor
from housing.csvfile import ImportRejected
from housing.dashboard import query_string
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import DomainError, Invalid
from housing.registry.models import Apartment, Building
from housing.routing import page_of
from housing.validation import PageNumber, Text, parse_day
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
SHOWN_LINE_ERRORS = 100  # a refused file's first bad lines; the API lists all
GatewayText = Annotated[Text, Query(max_length=10)]
DayText = Annotated[Text, Query(max_length=10)]


def gateway_asked(text: str, field: str = "gateway") -> Gateway | None:
    if text.strip() == "":
        return None
    try:
        return Gateway(text.strip())
    except ValueError as exc:
        raise Invalid(
            f"no gateway {text[:10]!r}; the gateways are {', '.join(Gateway)}", field=field
        ) from exc


def _day(text: str, field: str) -> date | None:
    if text.strip() == "":
        return None
    day = parse_day(text)
    if day is None:
        raise Invalid(f"{text[:10]!r} is not a day as YYYY-MM-DD from 2000 to 2100", field=field)
    return day


def _offset(paging: dict[str, int]) -> int:
    return (paging["page"] - 1) * PAGE_SIZE


# The payments list


@dataclass(frozen=True)
class PaymentRow:
    id: int
    moment: datetime
    paid: bool
    address: str
    number: str
    account_number: str
    gateway: str
    external_id: str | None
    amount_minor: int
    refunded_minor: int
    status: str


def _payments_query(
    actor: Actor, today: date, gateway: Gateway | None, day: date | None, timezone: str
) -> Select:
    paid = daily.paid_moment()
    query = (
        visible_payments(actor, today)
        .with_only_columns(
            PaymentAttempt.id,
            paid.label("paid_at"),
            PaymentAttempt.created_at,
            Building.address,
            Apartment.number,
            Apartment.account_number,
            PaymentAttempt.gateway,
            PaymentAttempt.external_id,
            PaymentAttempt.amount_minor,
            PaymentAttempt.refunded_minor,
            PaymentAttempt.status,
        )
        .join_from(PaymentAttempt, Apartment, col(Apartment.id) == PaymentAttempt.apartment_id)
        .join(Building, col(Building.id) == Apartment.building_id)
    )
    if gateway is not None:
        query = query.where(PaymentAttempt.gateway == gateway)
    if day is not None:
        query = query.where(daily.paid_on(day, timezone))
    return query


@router.get("/console/payments", response_class=HTMLResponse)
def payments_page(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    gateway: GatewayText = "",
    day: DayText = "",
    page: PageNumber = 1,
) -> Response:
    """The payments of the apartments you see, newest first: provider, transaction id, amount, status."""
    chosen, on = gateway_asked(gateway), _day(day, "day")
    query = _payments_query(actor, today, chosen, on, settings.timezone)
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = session.execute(
        query.order_by(col(PaymentAttempt.id).desc()).limit(PAGE_SIZE).offset(_offset(paging))
    ).all()
    payments = [
        PaymentRow(
            id=r.id,
            moment=r.paid_at or r.created_at,
            paid=r.paid_at is not None,
            address=r.address,
            number=r.number,
            account_number=r.account_number,
            gateway=r.gateway,
            external_id=r.external_id,
            amount_minor=r.amount_minor,
            refunded_minor=r.refunded_minor,
            status=r.status,
        )
        for r in rows
    ]
    return render(
        request,
        "billing/console_payments.html",
        actor=actor,
        payments=payments,
        paging=paging,
        gateways=list(Gateway),
        gateway=chosen.value if chosen else "",
        day=on.isoformat() if on else "",
        currency=DEFAULT_CURRENCY,
        query_string=query_string(
            gateway=chosen.value if chosen else None, day=on.isoformat() if on else None
        ),
    )


# Per gateway and day


def range_asked(first: str, last: str, today: date) -> tuple[date, date]:
    return daily.asked_days(_day(first, "from"), _day(last, "to"), today)


@router.get("/console/payments/daily", response_class=HTMLResponse)
def daily_page(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    gateway: GatewayText = "",
    first: Annotated[Text, Query(alias="from", max_length=10)] = "",
    last: Annotated[Text, Query(alias="to", max_length=10)] = "",
    page: PageNumber = 1,
) -> Response:
    """Per gateway and city day: payments, paid and handed back, over the apartments you see."""
    chosen = gateway_asked(gateway)
    start, end = range_asked(first, last, today)
    query = daily.daily_totals_query(
        start, end, timezone=settings.timezone, apartments=payment_scope(actor, today), gateway=chosen
    )
    paging = page_of(session, query, page, PAGE_SIZE)
    totals = daily.day_totals(session.execute(query.limit(PAGE_SIZE).offset(_offset(paging))).all())
    sums = daily.day_totals(
        session.execute(
            daily.daily_totals_query(
                start,
                end,
                timezone=settings.timezone,
                apartments=payment_scope(actor, today),
                gateway=chosen,
                by_day=False,
            )
        ).all()
    )
    return render(
        request,
        "billing/console_payments_daily.html",
        actor=actor,
        totals=totals,
        sums=sums,
        paging=paging,
        gateways=list(Gateway),
        gateway=chosen.value if chosen else "",
        first=start,
        last=end,
        currency=DEFAULT_CURRENCY,
        query_string=query_string(gateway=chosen.value if chosen else None, **{"from": start, "to": end}),
    )


# Reconciliation


def _reconciliation_page(
    request: Request,
    session: Session,
    actor: Actor,
    today: date,
    timezone: str,
    *,
    gateway: Gateway | None,
    day: date | None,
    page: int,
    dpage: int,
    notice: str = "",
    errors: dict[str, str] | None = None,
    line_errors: list[Any] | None = None,
    typed_gateway: str = "",
    status_code: int = 200,
) -> Response:
    runs_query = select(ReconciliationRun)
    if gateway is not None:
        runs_query = runs_query.where(ReconciliationRun.gateway == gateway)
    run_paging = page_of(session, runs_query, page, PAGE_SIZE)
    runs = session.exec(
        runs_query.order_by(col(ReconciliationRun.day).desc(), col(ReconciliationRun.gateway))
        .limit(PAGE_SIZE)
        .offset(_offset(run_paging))
    ).all()
    views = daily.run_views(
        session,
        list(runs),
        apartments=payment_scope(actor, today),
        differences=visible_differences(actor, today),
        timezone=timezone,
    )
    differences_query = visible_differences(actor, today)
    if gateway is not None:
        differences_query = differences_query.where(ReconciliationDifference.gateway == gateway)
    if day is not None:
        differences_query = differences_query.where(ReconciliationDifference.day == day)
    difference_paging = page_of(session, differences_query, dpage, PAGE_SIZE)
    differences = session.execute(
        differences_query.add_columns(Building.address, Apartment.number)
        .outerjoin(Apartment, col(Apartment.id) == ReconciliationDifference.apartment_id)
        .outerjoin(Building, col(Building.id) == Apartment.building_id)
        .order_by(
            col(ReconciliationDifference.day).desc(),
            col(ReconciliationDifference.gateway),
            col(ReconciliationDifference.id),
        )
        .limit(PAGE_SIZE)
        .offset(_offset(difference_paging))
    ).all()
    shown = {"gateway": gateway.value if gateway else None, "day": day.isoformat() if day else None}
    return render(
        request,
        "billing/console_reconciliation.html",
        status_code=status_code,
        actor=actor,
        runs=views,
        run_paging=run_paging,
        differences=differences,
        difference_paging=difference_paging,
        gateways=list(Gateway),
        statement_gateways=list(StatementGateway),
        gateway=gateway.value if gateway else "",
        day=day.isoformat() if day else "",
        kinds=list(Kind),
        may_import=actor.role in REGISTRARS,
        notice=notice,
        errors=errors or {},
        line_errors=(line_errors or [])[:SHOWN_LINE_ERRORS],
        more_line_errors=max(0, len(line_errors or []) - SHOWN_LINE_ERRORS),
        typed_gateway=typed_gateway,
        max_file_mb=MAX_STATEMENT_BYTES // (1024 * 1024),
        currency=DEFAULT_CURRENCY,
        filters=query_string(**shown),
        run_filters=query_string(**shown, dpage=dpage),  # paging the runs keeps the differences' page
        difference_filters=query_string(**shown, page=page),
    )


def _notice(done: str, _: Any) -> str:
    """What the upload did, said after its redirect ("imported-3-1-0-2": new, skipped, replaced, differences)."""
    if not done.startswith("imported-"):
        return ""
    parts = done.removeprefix("imported-").split("-")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 9 for p in parts):
        return ""
    imported, skipped, replaced, found = parts
    return _(
        "The statement is imported: %(imported)s new lines, %(skipped)s imported before,"
        " %(replaced)s payments now refunded. Its days are reconciled again: %(found)s differences."
    ) % {"imported": imported, "skipped": skipped, "replaced": replaced, "found": found}


@router.get("/console/payments/reconciliation", response_class=HTMLResponse)
def reconciliation_page(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    gateway: GatewayText = "",
    day: DayText = "",
    page: PageNumber = 1,
    dpage: PageNumber = 1,
    done: Annotated[Text, Query(max_length=60)] = "",
) -> Response:
    """Each gateway's days as last reconciled, what did not agree, and the statement upload."""
    _ = gettext_for(request, actor)
    return _reconciliation_page(
        request,
        session,
        actor,
        today,
        settings.timezone,
        gateway=gateway_asked(gateway),
        day=_day(day, "day"),
        page=page,
        dpage=dpage,
        notice=_notice(done, _),
    )


@router.post("/console/payments/reconciliation", response_class=HTMLResponse)
def upload_statement(
    request: Request,
    session: SessionDep,
    actor: RegistrarActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    gateway: Annotated[Text, Form(max_length=10)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Imports a provider's statement file, then back to the page (303) at its first day's differences."""
    _ = gettext_for(request, actor)
    errors: dict[str, str] = {}
    line_errors: list[Any] = []
    chosen = gateway.strip()
    if chosen not in StatementGateway.__members__:
        errors["gateway"] = _("Choose whose statement it is: Payme or Click.")
    if file is None or not file.filename:
        errors["file"] = _("Choose the statement's CSV file.")
    if not errors:
        assert file is not None
        try:
            result, found = import_statement_upload(
                session, file.file, Gateway(chosen), actor, today=today, timezone=settings.timezone, now=now
            )
        except ImportRejected as rejected:
            session.rollback()
            errors["file"] = _("Nothing was imported; fix these lines and upload the file again.")
            line_errors = rejected.errors
        except DomainError as error:
            session.rollback()
            errors["file"] = error.detail
        else:
            done = f"imported-{result.imported}-{result.already_imported}-{result.replaced}-{found}"
            target = query_string(gateway=result.gateway.value, done=done)
            return RedirectResponse(f"/console/payments/reconciliation?{target}", status_code=303)
    return _reconciliation_page(
        request,
        session,
        actor,
        today,
        settings.timezone,
        gateway=None,
        day=None,
        page=1,
        dpage=1,
        errors=errors,
        line_errors=line_errors,
        typed_gateway=chosen,
        status_code=422,
    )
