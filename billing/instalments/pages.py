"""HTML routes of instalment plans: the resident's view of their plan, and the console's page of
an account's plans with the form that agrees one (and the button that cancels it).

The form takes up to `FORM_ROWS` instalments as a due day and an amount in UZS each; rows left
blank are skipped. POST then 303 back to the page; a refusal shows the form again, as typed,
with the reason (422).
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from billing.instalments import service
from billing.ledger.service import unpaid_by_invoice
from billing.models import DEFAULT_CURRENCY, Invoice
from housing.auth import CurrentActor, StaffActor
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Conflict, Invalid
from housing.validation import Id, Text, parse_day, typed_tiyin
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)

FORM_ROWS = 12


@router.get("/apartments/{apartment_id}/instalment-plan", response_class=HTMLResponse)
def my_plan(
    apartment_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    settings: SettingsDep,
) -> Response:
    """The account's newest plan with its schedule and what has been paid toward it."""
    plans = service.plans_of(session, actor, apartment_id, today)
    view = service.plan_view(session, plans[0], today, settings.timezone) if plans else None
    return render(request, "billing/instalment_plan.html", actor=actor, apartment_id=apartment_id, view=view)


@router.get("/console/apartments/{apartment_id}/instalment-plans", response_class=HTMLResponse)
def console_plans(
    apartment_id: Id,
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    settings: SettingsDep,
) -> Response:
    return _page(request, session, actor, apartment_id, today, settings.timezone, typed={}, errors={})


@router.post("/console/apartments/{apartment_id}/instalment-plans", response_class=HTMLResponse)
def post_plan(
    apartment_id: Id,
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    settings: SettingsDep,
    due_on: Annotated[list[Text], Form(max_length=FORM_ROWS)] = [],  # noqa: B006 - FastAPI copies defaults
    amount: Annotated[list[Text], Form(max_length=FORM_ROWS)] = [],  # noqa: B006
    note: Annotated[Text, Form(max_length=service.MAX_NOTE)] = "",
) -> Response:
    _ = gettext_for(request, actor)
    errors: dict[str, str] = {}
    schedule: list[tuple[date, int]] = []
    for position, (day_text, amount_text) in enumerate(zip(due_on, amount, strict=False), start=1):
        if not day_text.strip() and not amount_text.strip():
            continue
        day, minor = parse_day(day_text.strip()), typed_tiyin(amount_text)
        if day is None or minor is None:
            errors["schedule"] = _(
                "Row {n}: give a day (YYYY-MM-DD) and an amount in sum above zero."
            ).format(n=position)
            break
        schedule.append((day, minor))
    if not errors:
        try:
            service.agree_plan(
                session,
                actor,
                apartment_id=apartment_id,
                invoice_ids=None,
                schedule=schedule,
                note=note,
                today=today,
                timezone=settings.timezone,
            )
        except (Invalid, Conflict) as error:  # 403 and 404 go to the error page
            errors[error.field or "form"] = error.detail
        else:
            return RedirectResponse(f"/console/apartments/{apartment_id}/instalment-plans", status_code=303)
    typed = {"due_on": due_on[:FORM_ROWS], "amount": amount[:FORM_ROWS], "note": note}
    return _page(
        request,
        session,
        actor,
        apartment_id,
        today,
        settings.timezone,
        typed=typed,
        errors=errors,
        status_code=422,
    )


@router.post("/console/instalment-plans/{plan_id}/cancel", response_class=HTMLResponse)
def post_cancel(
    plan_id: Id, session: SessionDep, actor: StaffActor, today: Today, settings: SettingsDep
) -> Response:
    plan = service.cancel_plan(session, actor, plan_id=plan_id, today=today, timezone=settings.timezone)
    return RedirectResponse(f"/console/apartments/{plan.apartment_id}/instalment-plans", status_code=303)


def _page(
    request: Request,
    session: Session,
    actor: Any,
    apartment_id: int,
    today: date,
    timezone: str,
    *,
    typed: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    plans = service.plans_of(session, actor, apartment_id, today)
    views = [service.plan_view(session, plan, today, timezone) for plan in plans]
    unpaid = unpaid_by_invoice(session, [apartment_id])
    invoices = [session.get(Invoice, invoice_id) for invoice_id in sorted(unpaid)]
    return render(
        request,
        "billing/console_instalment_plans.html",
        status_code=status_code,
        actor=actor,
        apartment_id=apartment_id,
        views=views,
        unpaid=[(invoice, unpaid[invoice.id]) for invoice in invoices if invoice is not None],
        debt=sum(unpaid.values()),
        currency=DEFAULT_CURRENCY,
        may_agree=actor.role in service.PLANNERS,
        in_force=any(view.standing.state == "active" and view.plan.status == "active" for view in views),
        rows=FORM_ROWS,
        typed=typed,
        errors=errors,
    )
