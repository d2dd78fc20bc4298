"""JSON routes of the reconciliation and of payments per gateway and day.

Company staff and admins read runs and differences (`StaffActor`): staff those of the apartments
their company manages, counted over them; a difference with no apartment only admins. Company
managers and admins import the providers' statement files (`RegistrarActor`): a manager's file
names their own accounts only. Staff and officials read payments per gateway and day over what
they see; officials (and admins) read the city's, per company if they like (`CityActor`).
"""

import io
from datetime import date, datetime
from typing import Annotated, BinaryIO

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from sqlmodel import Session, col, select

from billing.models import Gateway, ReconciliationDifference, ReconciliationRun
from billing.payments.reconciliation import daily
from billing.payments.reconciliation.queries import payment_scope, visible_differences
from billing.payments.reconciliation.rules import Kind
from billing.payments.reconciliation.schemas import (
    CityDailyPaymentsRead,
    DailyPaymentsRead,
    DifferenceRead,
    ReconciliationRunRead,
    StatementGateway,
    StatementImportRead,
)
from billing.payments.reconciliation.statement import (
    MAX_STATEMENT_BYTES,
    ProviderStatementResult,
    import_provider_statement,
)
from housing.actors import Actor
from housing.auth import CityActor, RegistrarActor, StaffActor, WatcherActor
from housing.csvfile import decode_upload
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import NotFound
from housing.registry.models import ManagementCompany
from housing.routing import Paging, count_rows, counted_page
from housing.schemas import API_PROBLEMS, Page, problems
from housing.validation import Day, Id

router = APIRouter(tags=["reconciliation"], responses=API_PROBLEMS)

GatewayFilter = Annotated[Gateway | None, Query(description="One gateway only")]
From = Annotated[Day | None, Query(alias="from", description="The first day (the city's), YYYY-MM-DD")]
To = Annotated[Day | None, Query(alias="to", description="The last day, included")]


def import_statement_upload(
    session: Session,
    upload: BinaryIO,
    gateway: Gateway,
    actor: Actor,
    *,
    today: date,
    timezone: str,
    now: datetime,
) -> tuple[ProviderStatementResult, int]:
    """Imports an uploaded statement file as `actor` (a manager's names their own accounts only), and
    counts the differences the actor sees on the days it reconciled again."""
    text = decode_upload(upload.read(MAX_STATEMENT_BYTES + 1), MAX_STATEMENT_BYTES)
    result = import_provider_statement(
        session,
        io.StringIO(text, newline=""),
        gateway=gateway,
        apartments=payment_scope(actor, today),
        user_id=actor.user_id,
        timezone=timezone,
        now=now,
    )
    differences = count_rows(
        session,
        visible_differences(actor, today).where(
            ReconciliationDifference.gateway == result.gateway,
            col(ReconciliationDifference.day).in_(result.days),
        ),
    )
    return result, differences


@router.post(
    "/imports/provider-statements",
    response_model=StatementImportRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        422, why={422: "The file has bad rows; `errors` lists each with its line; nothing imported"}
    ),
)
def import_statement(
    file: Annotated[UploadFile, File(description="CSV: transaction_id, time, amount, account_number, state")],
    gateway: Annotated[StatementGateway, Form(description="Whose statement it is")],
    session: SessionDep,
    actor: RegistrarActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
):
    """Imports a Payme or Click statement file, all lines or none, and reconciles the days it covers.

    The same line imported again is skipped; the same transaction with other content is refused
    (but a refund on a later day replaces its payment's performed line). A company manager's
    file names the accounts of their own apartments only. docs/reconciliation.md has the format.
    """
    result, differences = import_statement_upload(
        session, file.file, Gateway(gateway), actor, today=today, timezone=settings.timezone, now=now
    )
    return StatementImportRead(
        gateway=result.gateway,
        imported=result.imported,
        already_imported=result.already_imported,
        replaced=result.replaced,
        days=list(result.days),
        differences=differences,
    )


@router.get("/reconciliations", response_model=Page[ReconciliationRunRead])
def list_runs(
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    paging: Paging,
    gateway: GatewayFilter = None,
    first: From = None,
    last: To = None,
):
    """Each gateway's days as last reconciled, newest first; counted over the payments you may see."""
    query = select(ReconciliationRun)
    if gateway is not None:
        query = query.where(ReconciliationRun.gateway == gateway)
    if first is not None:
        query = query.where(ReconciliationRun.day >= first)
    if last is not None:
        query = query.where(ReconciliationRun.day <= last)
    runs, total = counted_page(
        session,
        query,
        col(ReconciliationRun.day).desc(),
        col(ReconciliationRun.gateway),
        limit=paging.limit,
        offset=paging.offset,
    )
    views = daily.run_views(
        session,
        [run for (run,) in runs],
        apartments=payment_scope(actor, today),
        differences=visible_differences(actor, today),
        timezone=settings.timezone,
    )
    return {
        "items": [ReconciliationRunRead.model_validate(v, from_attributes=True) for v in views],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


@router.get("/reconciliation-differences", response_model=Page[DifferenceRead])
def list_differences(
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    paging: Paging,
    gateway: GatewayFilter = None,
    day: Annotated[Day | None, Query(description="One day only")] = None,
    first: From = None,
    last: To = None,
    kind: Annotated[Kind | None, Query(description="One kind of difference only")] = None,
):
    """What did not agree when the days were last reconciled, newest day first."""
    query = visible_differences(actor, today)
    if gateway is not None:
        query = query.where(ReconciliationDifference.gateway == gateway)
    if day is not None:
        query = query.where(ReconciliationDifference.day == day)
    if first is not None:
        query = query.where(ReconciliationDifference.day >= first)
    if last is not None:
        query = query.where(ReconciliationDifference.day <= last)
    if kind is not None:
        query = query.where(ReconciliationDifference.kind == kind)
    rows, total = counted_page(
        session,
        query,
        col(ReconciliationDifference.day).desc(),
        col(ReconciliationDifference.gateway),
        col(ReconciliationDifference.id),
        limit=paging.limit,
        offset=paging.offset,
    )
    return {"items": [row for (row,) in rows], "total": total, "limit": paging.limit, "offset": paging.offset}


@router.get("/payments/daily", response_model=Page[DailyPaymentsRead])
def daily_payments(
    session: SessionDep,
    actor: WatcherActor,
    settings: SettingsDep,
    today: Today,
    paging: Paging,
    gateway: GatewayFilter = None,
    first: From = None,
    last: To = None,
):
    """Payments per gateway and city day (at most 31 days; the last week by default), newest first,
    over the apartments you may see: how many were paid, for how much, and what went back."""
    first, last = daily.asked_days(first, last, today)
    query = daily.daily_totals_query(
        first, last, timezone=settings.timezone, apartments=payment_scope(actor, today), gateway=gateway
    )
    return _page(session, query, paging)


@router.get("/city/payments/daily", response_model=Page[CityDailyPaymentsRead], tags=["city: payments"])
def city_daily_payments(
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    today: Today,
    paging: Paging,
    gateway: GatewayFilter = None,
    first: From = None,
    last: To = None,
    company_id: Annotated[Id | None, Query(description="One company's buildings only")] = None,
    by_company: Annotated[bool, Query(description="A row per company too")] = False,
):
    """The city's payments per gateway and day (at most 31 days; the last week by default), newest
    first; a company is the one managing the building on the payment's day."""
    first, last = daily.asked_days(first, last, today)
    if company_id is not None and session.get(ManagementCompany, company_id) is None:
        raise NotFound(f"company {company_id} not found")
    query = daily.daily_totals_query(
        first,
        last,
        timezone=settings.timezone,
        gateway=gateway,
        company_id=company_id,
        by_company=by_company,
    )
    return _page(session, query, paging)


def _page(session: SessionDep, query, paging) -> dict:
    total = count_rows(session, query)
    rows = session.execute(query.limit(paging.limit).offset(paging.offset)).all()
    return {
        "items": daily.day_totals(rows),
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }
