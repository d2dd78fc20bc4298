"""HTML routes of service requests for company staff and admins (`/console/requests`).

The queue by time left to the deadline with overdue and escalated ones marked in words,
filters as a GET form, paging; the moves allowed from a request's status and assignment to
a technician (posted from the request's page); a dispatcher files a request for a caller.
Every list is one query with its joins, whatever the number of rows.
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_
from sqlmodel import Session, col, select

from housing.actors import Actor
from housing.auth import CallTakerActor, DispatcherActor, StaffActor
from housing.clock import local_day
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import Invalid
from housing.registry.models import Apartment, Building, Ownership, Person, Residence
from housing.registry.periods import in_force
from housing.registry.queries import visible_buildings
from housing.requests import deadlines, lifecycle, service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from housing.requests.page_parts import (
    PostedForm,
    category_choices,
    chosen_category,
    description_errors,
    filing_refusals,
    page_rows,
)
from housing.requests.queries import VisibleRequestRow, visible_requests
from housing.settings import Settings
from housing.validation import PageNumber, Text, parse_day, parse_id
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)


@router.post("/requests/{request_id}/transitions", response_class=HTMLResponse)
def move(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    now: Now,
    row: VisibleRequestRow,
    to: Annotated[Text, Form(max_length=20)],
    reason: Annotated[Text, Form(max_length=1000)] = "",
    until: Annotated[Text, Form(max_length=20)] = "",
) -> Response:
    form = PostedForm(request, session, actor, now, settings, row)
    _ = gettext_for(request, actor)
    try:
        target = RequestStatus(to)
    except ValueError as exc:
        raise Invalid(f"unknown status {to!r}", field="to") from exc
    current = RequestStatus(row.request.status)
    if lifecycle.mover_of(current, target) is not Mover.staff:
        message = _("This step is not possible from the request's current status.")
        return form.refused(errors={"move": message})
    key = f"move-{target.value}"
    typed = {f"{key}-reason": reason, f"{key}-until": until}
    if target in lifecycle.REASON_REQUIRED and not reason.strip():
        return form.refused(
            errors={key: _("Say why."), "field": "reason"},
            typed=typed,
        )
    until_at = None
    if target is RequestStatus.deferred:
        day = parse_day(until)
        until_at = None if day is None else deadlines.deferred_until(day, settings.timezone)
        if until_at is None or until_at <= now:
            return form.refused(
                errors={key: _("Choose the day the work comes back, after today."), "field": "until"},
                typed=typed,
            )
    return form.transition(target, Mover.staff, key=key, typed=typed, reason=reason or None, until=until_at)


@router.post("/requests/{request_id}/assignment", response_class=HTMLResponse)
def assign(
    request: Request,
    session: SessionDep,
    actor: DispatcherActor,
    settings: SettingsDep,
    now: Now,
    row: VisibleRequestRow,
    assignee_id: Annotated[Text, Form(max_length=12)] = "",
) -> Response:
    form = PostedForm(request, session, actor, now, settings, row)
    return form.attempt(
        lambda: service.assign_request(
            session,
            row.request,
            assignee_id=parse_id(assignee_id),
            today=local_day(now, settings.timezone),
        ),
        done="assigned",
        key="assignee",
    )


@router.get("/console/requests", response_class=HTMLResponse)
def queue(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    now: Now,
    today: Today,
    status: Annotated[Text, Query(max_length=20)] = "open",
    building_id: Annotated[Text, Query(max_length=12)] = "",
    category: Annotated[Text, Query(max_length=40)] = "",
    mine: Annotated[Text, Query(max_length=5)] = "",
    page: PageNumber = 1,
) -> Response:
    """The company's requests, the least time left first: overdue ones lead."""
    query = visible_requests(actor, today)
    if status == "open":
        query = query.where(col(ServiceRequest.status).in_(lifecycle.OPEN))
    elif status in RequestStatus.__members__:
        query = query.where(ServiceRequest.status == status)
    else:
        status = "all"
    if (building := parse_id(building_id)) is not None:
        query = query.where(ServiceRequest.building_id == building)
    if category:
        codes = select(RequestCategory.id).where(RequestCategory.code == category)
        query = query.where(col(ServiceRequest.category_id).in_(codes))
    if mine:
        query = query.where(ServiceRequest.assignee_id == actor.user_id)
    paging, rows = page_rows(session, query, page, ServiceRequest.deadline_at, ServiceRequest.id)
    filters = {"status": status, "building_id": building_id, "category": category, "mine": mine}
    buildings = _building_choices(session, actor, today)
    return render(
        request,
        "requests/queue.html",
        actor=actor,
        rows=rows,
        now=now,
        paging=paging,
        filters=filters,
        query_string=urlencode({k: v for k, v in filters.items() if v}),
        statuses=list(RequestStatus),
        categories=category_choices(session, actor),
        buildings=buildings,
    )


BUILDING_CHOICES = 300  # more than this (an admin's whole city) and the filter takes a number


def _building_choices(session: Session, actor: Actor, today: date) -> list[tuple[int, str]] | None:
    rows = session.execute(
        visible_buildings(actor, today)
        .with_only_columns(Building.id, Building.address)
        .order_by(Building.address)
        .limit(BUILDING_CHOICES + 1)
    ).all()
    return None if len(rows) > BUILDING_CHOICES else [(row[0], row[1]) for row in rows]


# A dispatcher files for a caller


@router.get("/console/requests/new", response_class=HTMLResponse)
def call_form(
    request: Request,
    session: SessionDep,
    actor: CallTakerActor,
    settings: SettingsDep,
    today: Today,
    building_id: Annotated[Text, Query(max_length=12)] = "",
    apartment: Annotated[Text, Query(max_length=20)] = "",
) -> Response:
    typed = {"building_id": building_id, "apartment": apartment}
    return _call_page(
        request, session, actor, settings, today, typed=typed, errors={}, lookup=bool(building_id)
    )


@router.post("/console/requests", response_class=HTMLResponse)
def file_for_caller(
    request: Request,
    session: SessionDep,
    actor: CallTakerActor,
    settings: SettingsDep,
    now: Now,
    today: Today,
    building_id: Annotated[Text, Form(max_length=12)] = "",
    apartment: Annotated[Text, Form(max_length=20)] = "",
    caller: Annotated[Text, Form(max_length=12)] = "",
    category_id: Annotated[Text, Form(max_length=12)] = "",
    description: Annotated[Text, Form(max_length=4000)] = "",
    emergency: Annotated[Text | None, Form(max_length=5)] = None,
) -> Response:
    _ = gettext_for(request, actor)
    typed = {
        "building_id": building_id,
        "apartment": apartment,
        "caller": caller,
        "category_id": category_id,
        "description": description,
        "emergency": "1" if emergency else "",
    }
    place = _call_place(session, actor, today, building_id, apartment)
    errors = place.errors(_, apartment)
    caller_id = parse_id(caller)
    if caller_id is not None and caller_id not in {person.id for person in place.people}:
        errors["caller"] = _("Choose one of the people registered in the apartment.")
    category = chosen_category(session, actor, category_id)
    if category is None:
        errors["category_id"] = _("Choose what the problem is about.")
    errors |= description_errors(_, description)
    if errors:
        return _call_page(request, session, actor, settings, today, typed=typed, errors=errors, lookup=True)
    assert place.building is not None and category is not None
    too_many = _("This resident has already filed %(limit)s requests today, the most allowed in a day.")
    same = _(
        "The same request was already filed today (number %(number)s). "
        "Add a comment to it instead of filing it again."
    )
    with filing_refusals(session, errors, settings, too_many=too_many, same=same):
        filed = service.file_request(
            session,
            filed_by_id=actor.user_id,
            requester_person_id=caller_id,
            building_id=place.building.id,
            apartment_id=place.apartment.id if place.apartment else None,
            category_id=category.id,
            description=description,
            emergency=True if emergency else None,
            now=now,
            timezone=settings.timezone,
            daily_limit=settings.requests.daily_limit,
            emergency_deadline=settings.requests.emergency_deadline,
        )
    if errors:
        return _call_page(request, session, actor, settings, today, typed=typed, errors=errors, lookup=True)
    return RedirectResponse(f"/requests/{filed.id}?filed=1", status_code=303)


@dataclass(frozen=True)
class CallPlace:
    building: Building | None
    apartment: Apartment | None
    people: list[Person]

    def errors(self, _: Any, number: str) -> dict[str, str]:
        """What is wrong with the building and the apartment number typed, for the form."""
        if self.building is None:
            return {"building_id": _("Choose one of your company's buildings.")}
        if number.strip() and self.apartment is None:
            return {"apartment": _("There is no apartment with this number in the building.")}
        return {}


def _call_place(session: Session, actor: Actor, today: date, building_id: str, number: str) -> CallPlace:
    """The building (within the actor's scope), the apartment by its number, and who lives there."""
    wanted = parse_id(building_id)
    if wanted is None:
        return CallPlace(None, None, [])
    building = session.exec(visible_buildings(actor, today).where(Building.id == wanted)).first()
    if building is None or not number.strip():
        return CallPlace(building, None, [])
    apartment = session.exec(
        select(Apartment).where(Apartment.building_id == building.id, Apartment.number == number.strip())
    ).first()
    if apartment is None:
        return CallPlace(building, None, [])
    return CallPlace(building, apartment, _people_of(session, apartment.id, today))


def _people_of(session: Session, apartment_id: int, today: date) -> list[Person]:
    """Owners and registered residents of the apartment today, in one query."""
    owners = select(Ownership.person_id).where(
        Ownership.apartment_id == apartment_id, in_force(Ownership, today)
    )
    living = select(Residence.person_id).where(
        Residence.apartment_id == apartment_id, in_force(Residence, today)
    )
    return list(
        session.exec(
            select(Person)
            .where(or_(col(Person.id).in_(owners), col(Person.id).in_(living)))
            .order_by(Person.full_name)
        )
    )


def _call_page(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    today: date,
    *,
    typed: dict[str, str],
    errors: dict[str, str],
    lookup: bool,
) -> Response:
    _ = gettext_for(request, actor)
    place = _call_place(session, actor, today, typed.get("building_id", ""), typed.get("apartment", ""))
    if lookup and not errors:
        errors = place.errors(_, typed.get("apartment", ""))
    return render(
        request,
        "requests/call.html",
        status_code=422 if errors and request.method == "POST" else 200,
        actor=actor,
        buildings=_building_choices(session, actor, today),
        place=place,
        categories=category_choices(session, actor),
        typed=typed,
        errors=errors,
        emergency_minutes=settings.requests.emergency_deadline_minutes,
    )
