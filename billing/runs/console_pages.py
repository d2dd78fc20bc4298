"""HTML route of the company console's billing run: admins preview a month (a dry run) and issue it.

The same rule as the API's POST /api/v1/billing/runs (`billing.invoices.endpoints`): only
admins start one. A preview is a dry run (GET: it writes nothing); issuing is a POST, then a
redirect to the period's page.
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from billing.invoices.schemas import period_start
from billing.models import DEFAULT_CURRENCY, Invoice, InvoiceStatus
from billing.rules import BillingRules
from billing.runs.service import RunSummary, run_billing
from housing import clock
from housing.actors import Actor
from housing.auth import AdminActor
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import DomainError
from housing.settings import Settings
from housing.validation import Text
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)

PREVIEW_INVOICES = 20


@router.get("/console/billing", response_class=HTMLResponse)
def billing_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: AdminActor,
    today: Today,
    period: Annotated[Text, Query(max_length=7)] = "",
    issued: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """The form; with a period, the dry run's preview (counts, totals, warnings) under it."""
    summary, error = None, None
    if period:
        summary, error = _run(request, session, settings, actor, today, period, dry_run=True)
    return _billing_page(request, session, actor, today, period, summary, error, issued=bool(issued))


@router.post("/console/billing", response_class=HTMLResponse)
def issue_invoices(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: AdminActor,
    today: Today,
    period: Annotated[Text, Form(max_length=7)] = "",
) -> Response:
    summary, error = _run(request, session, settings, actor, today, period, dry_run=False)
    if summary is None:
        return _billing_page(request, session, actor, today, period, None, error, status=422)
    if summary.locked_out:
        _ = gettext_for(request, actor)
        error = _("Another billing run is working right now. Try again in a few minutes.")
        return _billing_page(request, session, actor, today, period, None, error, status=409)
    return RedirectResponse(f"/console/billing?period={period}&issued=1", status_code=303)


def _is_month(period: str) -> bool:
    try:
        period_start(period)
    except ValueError:
        return False
    return True


def _run(
    request: Request,
    session: Session,
    settings: Settings,
    actor: Actor,
    today: date,
    period: str,
    *,
    dry_run: bool,
) -> tuple[RunSummary | None, str | None]:
    """The run of a month typed in the form (a preview when `dry_run`), or why there is none."""
    _ = gettext_for(request, actor)
    if not _is_month(period):
        return None, _("Choose a month, for example 2026-10.")
    try:
        summary = run_billing(
            session,
            period=period_start(period),
            today=today,
            dry_run=dry_run,
            timezone=settings.timezone,
            rules=BillingRules.from_settings(settings),
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
        last_month=f"{clock.previous_month(today):%Y-%m}",
    )
