"""HTML routes of the resident's meters: a chart of each meter's last 12 months, and submitting a reading.

A reading is an ordinary form (POST, then 303 back to the page, which shows it in the
chart); a refused one re-renders the page with the reason next to the field.
"""

from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from typing import Annotated

from babel.numbers import NumberFormatError, parse_decimal
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col

from housing import clock, i18n
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import DomainError, Forbidden, NotFound
from housing.registry.models import Apartment, Building
from housing.registry.queries import visible_apartments
from housing.settings import Settings
from housing.validation import Id, Text
from housing.web import gettext_for, render, request_language
from sensors.meters import service
from sensors.meters.chart import Chart, bar_chart
from sensors.meters.queries import VisibleMeter, visible_meters
from sensors.models import Meter
from sensors.usage.series import monthly_consumption

router = APIRouter(include_in_schema=False)

CHART_MONTHS = 12


@dataclass(frozen=True)
class MeterView:
    meter: Meter
    chart: Chart
    readable: bool  # the resident submits its readings by hand


@router.get("/apartments/{apartment_id}/meters", response_class=HTMLResponse)
def meters_page(
    apartment_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    settings: SettingsDep,
    submitted: Id | None = None,
) -> Response:
    return _page(request, session, settings, actor, today, apartment_id, submitted=submitted)


def _residents_only(actor: CurrentActor) -> None:
    if actor.role is not Role.resident:
        raise Forbidden("this form is for residents; staff enter readings through the API")


@router.post(
    "/meters/{meter_id}/readings", response_class=HTMLResponse, dependencies=[Depends(_residents_only)]
)
def submit_reading(
    meter: VisibleMeter,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    today: Today,
    value: Annotated[Text, Form(max_length=30)],
) -> Response:
    if meter.apartment_id is None:  # a building's common meter is read by the company
        raise NotFound(f"meter {meter.id} not found")
    _ = gettext_for(request, actor)
    window = (settings.meters.window_start_day, settings.meters.window_end_day)
    number = _reading(request, actor, value)
    error = None
    if number is None:
        error = _("Enter the number the meter shows, for example 1234,567.")
    elif not service.in_window(today.day, *window):
        error = _("Readings are accepted from day %(start)s to day %(end)s of each month.") % {
            "start": window[0],
            "end": window[1],
        }
    if error is None:
        try:
            service.submit_reading(
                session,
                meter,
                value=number,
                now=clock.local_now(settings.timezone).astimezone(UTC),
                timezone=settings.timezone,
                by_resident=True,
                window=window,
            )
        except DomainError as exc:
            session.rollback()
            error = exc.detail
    if error is not None:
        return _page(
            request,
            session,
            settings,
            actor,
            today,
            meter.apartment_id,
            errors={meter.id: error},
            typed={meter.id: value},
        )
    return RedirectResponse(f"/apartments/{meter.apartment_id}/meters?submitted={meter.id}", status_code=303)


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    actor: Actor,
    today: date,
    apartment_id: int,
    *,
    submitted: int | None = None,
    errors: dict[int, str] | None = None,
    typed: dict[int, str] | None = None,
) -> Response:
    row = session.execute(  # execute, not exec: two columns, not scalars
        visible_apartments(actor, today)
        .add_columns(Building.address)
        .join(Building, Building.id == Apartment.building_id)
        .where(Apartment.id == apartment_id)
    ).first()
    if row is None:
        raise NotFound(f"apartment {apartment_id} not found")
    apartment, address = row
    meters = session.exec(
        visible_meters(actor, today)
        .where(Meter.apartment_id == apartment_id, col(Meter.removed_on).is_(None))
        .order_by(Meter.kind, Meter.serial)
    ).all()
    now = clock.local_now(settings.timezone)
    views = []
    for meter in meters:  # a handful per apartment; each chart is a few queries, not one per month
        months = monthly_consumption(
            session,
            meter.id,
            months=CHART_MONTHS,
            now=now,
            timezone=settings.timezone,
            tolerance=settings.meters.boundary_tolerance,
        )
        chart = bar_chart([(month, result.quantity) for month, result in months])
        views.append(MeterView(meter=meter, chart=chart, readable=not meter.smart))
    window = (settings.meters.window_start_day, settings.meters.window_end_day)
    return render(
        request,
        "sensors/meters.html",
        status_code=422 if errors else 200,
        actor=actor,
        apartment=apartment,
        address=address,
        meters=views,
        window=window,
        window_open=service.in_window(today.day, *window),
        submitted=submitted,
        errors=errors or {},
        typed=typed or {},
    )


def _reading(request: Request, actor: Actor, value: str) -> Decimal | None:
    language = request_language(request, actor.language)
    try:
        number = parse_decimal(value.strip(), locale=i18n.babel_locale(language))
    except NumberFormatError:
        return None
    return number if number >= 0 else None
