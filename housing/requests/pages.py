"""HTML routes of service requests: the resident's requests and the company's queue.

Residents (`/requests`): list their requests, file one for an apartment or its building's
common area (with an optional photo), follow it (status history on the city's clock,
comments meant for them), reopen a resolved one within the window and rate it once.
Company staff and admins (`/console/requests`): the queue by time left to the deadline with
overdue and escalated ones marked in words, filters as a GET form, paging; a request's
page with its history, the moves allowed from its status as forms, assignment to a
technician, comments (internal or for the resident); a dispatcher files a request for a
caller. Every list is one query with its joins, whatever the number of rows; every form
posts, then redirects (303) to the page that shows the result, or re-renders the form with
the reason next to the field.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, func, or_
from sqlmodel import Session, col, select

from housing.accounts.models import COMPANY_ROLES, Role, User
from housing.actors import DISPATCHERS, Actor
from housing.auth import CallTakerActor, DispatcherActor, ParticipantActor, ResidentActor, StaffActor
from housing.db import SessionDep
from housing.deps import Now
from housing.errors import Conflict, DomainError, Invalid, NotFound, RateLimited
from housing.registry.models import Apartment, Building, Ownership, Person, Residence
from housing.registry.queries import visible_apartments, visible_buildings
from housing.requests import lifecycle, service
from housing.requests.lifecycle import Mover
from housing.requests.models import (
    RequestCategory,
    RequestComment,
    RequestStatus,
    RequestTransition,
    ServiceRequest,
)
from housing.requests.photos import inspect_photo
from housing.requests.queries import visible_categories, visible_requests
from housing.routing import page_of
from housing.settings import Settings
from housing.validation import Id, PageNumber, Text, parse_day, parse_id
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
DESCRIPTION_MIN, DESCRIPTION_MAX = 5, 2000

# Who files for a caller, as the API allows: dispatchers and managers of the building's company.


@dataclass(frozen=True)
class RequestRow:
    """A request with the names a list shows, loaded in the list's one query."""

    request: ServiceRequest
    address: str
    apartment_number: str | None
    category_code: str
    category_name: str
    assignee: str | None

    def left(self, now: datetime) -> timedelta:
        return self.request.deadline_at - now

    def late(self, now: datetime) -> bool:
        return RequestStatus(self.request.status) in lifecycle.OPEN and self.request.deadline_at < now


def _today(settings: Settings, now: datetime) -> date:
    return lifecycle.local_day(now, settings.timezone)[1]


def _rows(query: Select) -> Select:
    """The list's columns: the request, its address, apartment, category and assignee, in one query."""
    return (
        query.add_columns(
            Building.address, Apartment.number, RequestCategory.code, RequestCategory.name, User.username
        )
        .join(Building, Building.id == ServiceRequest.building_id)
        .outerjoin(Apartment, Apartment.id == ServiceRequest.apartment_id)
        .join(RequestCategory, RequestCategory.id == ServiceRequest.category_id)
        .outerjoin(User, User.id == ServiceRequest.assignee_id)
    )


def _load_rows(session: Session, query: Select) -> list[RequestRow]:
    return [RequestRow(*row) for row in session.execute(_rows(query)).all()]


def _one_row(session: Session, actor: Actor, today: date, request_id: int) -> RequestRow:
    rows = _load_rows(session, visible_requests(actor, today).where(ServiceRequest.id == request_id))
    if not rows:  # outside the actor's scope reads as missing, so ids do not leak
        raise NotFound(f"request {request_id} not found")
    return rows[0]


# The resident's side


@router.get("/requests", response_class=HTMLResponse)
def my_requests(
    request: Request,
    session: SessionDep,
    actor: ParticipantActor,
    now: Now,
    page: PageNumber = 1,
) -> Response:
    if actor.role is not Role.resident:
        return RedirectResponse("/console/requests", status_code=303)
    settings = request.app.state.settings
    query = visible_requests(actor, _today(settings, now))
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = _load_rows(
        session,
        query.order_by(col(ServiceRequest.created_at).desc(), col(ServiceRequest.id).desc())
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE),
    )
    return render(request, "requests/mine.html", actor=actor, rows=rows, paging=paging, now=now)


@router.get("/requests/new", response_class=HTMLResponse)
def new_request_form(request: Request, session: SessionDep, actor: ResidentActor, now: Now) -> Response:
    return _filing_page(request, session, actor, now, typed={}, errors={})


@router.post("/requests", response_class=HTMLResponse)
def file_my_request(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    now: Now,
    place: Annotated[Text, Form(max_length=30)] = "",
    category_id: Annotated[Text, Form(max_length=12)] = "",
    description: Annotated[Text, Form(max_length=4000)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    settings = request.app.state.settings
    today = _today(settings, now)
    _ = gettext_for(request, actor)
    typed = {"place": place, "category_id": category_id, "description": description}
    errors: dict[str, str] = {}
    places = {option["value"]: option for option in _places(session, actor, today)}
    chosen = places.get(place)
    if chosen is None:
        errors["place"] = _("Choose the apartment, or the building for a common-area problem.")
    category = _category(session, actor, category_id)
    if category is None:
        errors["category_id"] = _("Choose what the problem is about.")
    errors |= _description_errors(_, description)
    data = b""
    if photo is not None and photo.filename:
        limit = settings.requests.max_photo_bytes
        data = photo.file.read(limit + 1)
        try:
            inspect_photo(data, max_bytes=limit)
        except DomainError:
            errors["photo"] = _("The photo must be a JPEG, PNG or WebP picture of at most %(size)s MB.") % {
                "size": limit // (1024 * 1024)
            }
    if errors:
        return _filing_page(request, session, actor, now, typed=typed, errors=errors)
    assert chosen is not None and category is not None
    too_many = _(
        "You have filed %(limit)s requests today, the most one resident may file in a day. "
        "Try again tomorrow; in an emergency call the dispatcher."
    )
    same = _(
        "You already filed the same request today (number %(number)s). "
        "Add a comment to it instead of filing it again."
    )
    with _filing_refusals(session, errors, settings, too_many=too_many, same=same):
        filed = service.file_request(
            session,
            filed_by_id=actor.user_id,
            requester_person_id=actor.person_id,
            building_id=chosen["building_id"],
            apartment_id=chosen["apartment_id"],
            category_id=category.id,
            description=description,
            emergency=None,
            now=now,
            timezone=settings.timezone,
            daily_limit=settings.requests.daily_limit,
            emergency_deadline=settings.requests.emergency_deadline,
        )
        if data:
            service.attach_photo(
                session,
                filed,
                data=data,
                uploaded_by_id=actor.user_id,
                photo_dir=settings.requests.photo_dir,
                max_bytes=settings.requests.max_photo_bytes,
                max_photos=settings.requests.max_photos,
            )
    if errors:
        return _filing_page(request, session, actor, now, typed=typed, errors=errors)
    return RedirectResponse(f"/requests/{filed.id}?filed=1", status_code=303)


@contextmanager
def _filing_refusals(
    session: Session, errors: dict[str, str], settings: Settings, *, too_many: str, same: str
) -> Iterator[None]:
    """Turn the service's refusals of a filing into the form's messages (and roll the filing back)."""
    try:
        yield
    except RateLimited:
        session.rollback()
        errors["form"] = too_many % {"limit": settings.requests.daily_limit}
    except Conflict as exc:
        session.rollback()
        errors["form"] = same % {"number": exc.extra.get("request_id", "")}
        errors["duplicate_of"] = str(exc.extra.get("request_id", ""))
    except DomainError as exc:
        session.rollback()
        errors[exc.field or "form"] = exc.detail


def _description_errors(_: Any, description: str) -> dict[str, str]:
    text = description.strip()
    if len(text) < DESCRIPTION_MIN:
        return {"description": _("Describe the problem in a few words (at least 5 letters).")}
    if len(text) > DESCRIPTION_MAX:
        return {"description": _("The description is too long: at most 2000 characters.")}
    return {}


def _category(session: Session, actor: Actor, category_id: str) -> RequestCategory | None:
    wanted = parse_id(category_id)
    if wanted is None:
        return None
    return session.exec(visible_categories(actor).where(RequestCategory.id == wanted)).first()


def _categories(session: Session, actor: Actor) -> list[RequestCategory]:
    return list(session.exec(visible_categories(actor).order_by(RequestCategory.id)))


def _places(session: Session, actor: Actor, today: date) -> list[dict[str, Any]]:
    """Where a resident may file: each home, and each home's building for a common-area problem."""
    rows = session.execute(
        visible_apartments(actor, today)
        .add_columns(Building.address)
        .join(Building, Building.id == Apartment.building_id)
        .order_by(Building.address, Apartment.number)
    ).all()
    places, buildings = [], {}
    for apartment, address in rows:
        places.append(
            {
                "value": f"apartment:{apartment.id}",
                "apartment_id": apartment.id,
                "building_id": apartment.building_id,
                "address": address,
                "number": apartment.number,
            }
        )
        buildings.setdefault(apartment.building_id, address)
    for building_id, address in buildings.items():
        places.append(
            {
                "value": f"building:{building_id}",
                "apartment_id": None,
                "building_id": building_id,
                "address": address,
                "number": None,
            }
        )
    return places


def _filed_today(session: Session, actor: Actor, settings: Settings, now: datetime) -> int:
    start, _today_date = lifecycle.local_day(now, settings.timezone)
    return session.exec(
        select(func.count())
        .select_from(ServiceRequest)
        .where(
            ServiceRequest.requester_person_id == actor.person_id,
            ServiceRequest.created_at >= start,
            ServiceRequest.created_at < start + timedelta(days=1),
        )
    ).one()


def _filing_page(
    request: Request,
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    typed: dict[str, str],
    errors: dict[str, str],
) -> Response:
    settings = request.app.state.settings
    return render(
        request,
        "requests/new.html",
        status_code=422 if errors else 200,
        actor=actor,
        places=_places(session, actor, _today(settings, now)),
        categories=_categories(session, actor),
        typed=typed,
        errors=errors,
        daily_limit=settings.requests.daily_limit,
        filed_today=_filed_today(session, actor, settings, now),
        max_photo_mb=settings.requests.max_photo_bytes // (1024 * 1024),
    )


# One request's page, for the resident and for staff


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request_id: Id,
    request: Request,
    session: SessionDep,
    actor: ParticipantActor,
    now: Now,
    filed: Annotated[int, Query(ge=0, le=1)] = 0,
    done: Annotated[Text | None, Query(max_length=20)] = None,
) -> Response:
    return _request_page(request, session, actor, now, request_id, filed=bool(filed), done=done)


def _request_page(
    request: Request,
    session: Session,
    actor: Actor,
    now: datetime,
    request_id: int,
    *,
    filed: bool = False,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    settings = request.app.state.settings
    row = _one_row(session, actor, _today(settings, now), request_id)
    staff = actor.role is not Role.resident
    mover = Mover.staff if staff else Mover.resident
    current = RequestStatus(row.request.status)
    window = settings.requests.reopen_window
    context: dict[str, Any] = {
        "row": row,
        "history": _history(session, request_id),
        "comments": _comments(session, request_id, with_internal=staff),
        "photos": service.photos_of(session, request_id),
        "now": now,
        "filed": filed,
        "done": done,
        "errors": errors or {},
        "typed": typed or {},
        "moves": [
            to for to in lifecycle.allowed_targets(current) if lifecycle.mover_of(current, to) is mover
        ],
        "reason_required": lifecycle.REASON_REQUIRED,
    }
    if staff:
        context["technicians"] = _technicians(session, row.request.company_id)
        context["may_assign"] = actor.role in DISPATCHERS and current in lifecycle.OPEN | {
            RequestStatus.deferred
        }
        return render(
            request,
            "requests/console_request.html",
            status_code=422 if errors else 200,
            actor=actor,
            **context,
        )
    mine = row.request.requester_person_id is not None and row.request.requester_person_id == actor.person_id
    context["may_rate"] = mine and row.request.rating is None and current in lifecycle.RATEABLE
    context["may_reopen"] = RequestStatus.reopened in context["moves"] and lifecycle.may_reopen(
        row.request.resolved_at, now, window
    )
    context["reopen_until"] = row.request.resolved_at + window if row.request.resolved_at else None
    return render(
        request, "requests/request.html", status_code=422 if errors else 200, actor=actor, **context
    )


@dataclass(frozen=True)
class PostedForm:
    """A form posted on a request's page: the request as the actor sees it, and that page again."""

    request: Request
    session: Session
    actor: Actor
    now: datetime
    settings: Settings
    row: RequestRow

    def refused(self, *, errors: dict[str, str], typed: dict[str, str] | None = None) -> Response:
        """The request's page with the form's errors next to their fields (and what was typed)."""
        return _request_page(
            self.request, self.session, self.actor, self.now, self.row.request.id, errors=errors, typed=typed
        )


def _posted(request: Request, session: Session, actor: Actor, now: datetime, request_id: int) -> PostedForm:
    settings = request.app.state.settings
    row = _one_row(session, actor, _today(settings, now), request_id)
    return PostedForm(request, session, actor, now, settings, row)


def _history(session: Session, request_id: int) -> list[tuple[RequestTransition, str | None]]:
    return list(
        session.execute(
            select(RequestTransition, User.username)
            .outerjoin(User, User.id == RequestTransition.actor_id)
            .where(RequestTransition.request_id == request_id)
            .order_by(RequestTransition.at, RequestTransition.id)
        ).all()
    )


def _comments(
    session: Session, request_id: int, *, with_internal: bool
) -> list[tuple[RequestComment, str, str]]:
    query = (
        select(RequestComment, User.username, User.role)
        .join(User, User.id == RequestComment.author_id)
        .where(RequestComment.request_id == request_id)
    )
    if not with_internal:
        query = query.where(col(RequestComment.internal).is_(False))
    return list(session.execute(query.order_by(RequestComment.created_at, RequestComment.id)).all())


def _technicians(session: Session, company_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(
                User.company_id == company_id,
                col(User.role).in_(COMPANY_ROLES),
                col(User.is_active).is_(True),
            )
            .order_by(User.role.desc(), User.username)  # technicians first, then dispatchers and managers
        )
    )


@router.post("/requests/{request_id}/rating", response_class=HTMLResponse)
def rate(
    request_id: Id,
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    now: Now,
    rating: Annotated[Text, Form(max_length=2)] = "",
    comment: Annotated[Text, Form(max_length=1000)] = "",
) -> Response:
    form = _posted(request, session, actor, now, request_id)
    row = form.row
    _ = gettext_for(request, actor)
    if rating not in {"1", "2", "3", "4", "5"}:
        return form.refused(
            errors={"rating": _("Choose a mark from 1 to 5.")},
            typed={"rating_comment": comment},
        )
    refusal = None
    if row.request.rating is not None:
        refusal = _("You have already rated this request; a request is rated once.")
    elif row.request.requester_person_id != actor.person_id:
        refusal = _("Only the resident the request was filed for may rate it.")
    elif RequestStatus(row.request.status) not in lifecycle.RATEABLE:
        refusal = _("A request can be rated once it is resolved.")
    if refusal is not None:
        return form.refused(errors={"rating": refusal})
    service.rate_request(
        session, row.request, person_id=actor.person_id, rating=int(rating), comment=comment, now=now
    )
    return RedirectResponse(f"/requests/{request_id}?done=rated", status_code=303)


@router.post("/requests/{request_id}/reopen", response_class=HTMLResponse)
def reopen(
    request_id: Id,
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    now: Now,
    reason: Annotated[Text, Form(max_length=1000)] = "",
) -> Response:
    form = _posted(request, session, actor, now, request_id)
    settings, row = form.settings, form.row
    _ = gettext_for(request, actor)
    if not reason.strip():
        return form.refused(errors={"reopen": _("Say what is still wrong.")})
    try:
        service.transition_request(
            session,
            row.request,
            to=RequestStatus.reopened,
            actor_id=actor.user_id,
            mover=Mover.resident,
            now=now,
            reopen_window=settings.requests.reopen_window,
            emergency_deadline=settings.requests.emergency_deadline,
            reason=reason,
        )
    except DomainError as exc:
        session.rollback()
        message = exc.detail
        if isinstance(exc, Conflict):
            message = _(
                "A request can be reopened within %(days)s days of its resolution; file a new one."
            ) % {"days": settings.requests.reopen_days}
        return form.refused(errors={"reopen": message}, typed={"reason": reason})
    return RedirectResponse(f"/requests/{request_id}?done=reopened", status_code=303)


@router.post("/requests/{request_id}/comments", response_class=HTMLResponse)
def comment(
    request_id: Id,
    request: Request,
    session: SessionDep,
    actor: ParticipantActor,
    now: Now,
    body: Annotated[Text, Form(max_length=4000)] = "",
    for_resident: Annotated[Text | None, Form(max_length=5)] = None,
) -> Response:
    form = _posted(request, session, actor, now, request_id)
    row = form.row
    _ = gettext_for(request, actor)
    text = body.strip()
    error = None
    if not text:
        error = _("Write the comment first.")
    elif len(text) > DESCRIPTION_MAX:
        error = _("The comment is too long: at most 2000 characters.")
    if error:
        return form.refused(errors={"comment": error}, typed={"comment": body})
    # A resident's comment is always visible; staff say whether the resident may read theirs.
    internal = actor.role is not Role.resident and for_resident is None
    service.add_comment(session, row.request, author_id=actor.user_id, body=text, internal=internal, now=now)
    return RedirectResponse(f"/requests/{request_id}?done=commented#comments", status_code=303)


# The company's side


@router.post("/requests/{request_id}/transitions", response_class=HTMLResponse)
def move(
    request_id: Id,
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    now: Now,
    to: Annotated[Text, Form(max_length=20)],
    reason: Annotated[Text, Form(max_length=1000)] = "",
    until: Annotated[Text, Form(max_length=20)] = "",
) -> Response:
    form = _posted(request, session, actor, now, request_id)
    settings, row = form.settings, form.row
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
        until_at = _local_date(until, settings.timezone)
        if until_at is None or until_at <= now:
            return form.refused(
                errors={key: _("Choose the day the work comes back, after today."), "field": "until"},
                typed=typed,
            )
    try:
        service.transition_request(
            session,
            row.request,
            to=target,
            actor_id=actor.user_id,
            mover=Mover.staff,
            now=now,
            reopen_window=settings.requests.reopen_window,
            emergency_deadline=settings.requests.emergency_deadline,
            reason=reason or None,
            until=until_at,
        )
    except DomainError as exc:
        session.rollback()
        return form.refused(errors={key: exc.detail}, typed=typed)
    return RedirectResponse(f"/requests/{request_id}?done={target.value}", status_code=303)


def _local_date(value: str, timezone: str) -> datetime | None:
    """A day picked in a date field: the morning (08:00) of that day on the city's clock."""
    day = parse_day(value)
    if day is None:
        return None
    return datetime.combine(day, time(8), ZoneInfo(timezone))


@router.post("/requests/{request_id}/assignment", response_class=HTMLResponse)
def assign(
    request_id: Id,
    request: Request,
    session: SessionDep,
    actor: DispatcherActor,
    now: Now,
    assignee_id: Annotated[Text, Form(max_length=12)] = "",
) -> Response:
    form = _posted(request, session, actor, now, request_id)
    row = form.row
    try:
        service.assign_request(session, row.request, assignee_id=parse_id(assignee_id))
    except DomainError as exc:
        session.rollback()
        return form.refused(errors={"assignee": exc.detail})
    return RedirectResponse(f"/requests/{request_id}?done=assigned", status_code=303)


@router.get("/console/requests", response_class=HTMLResponse)
def queue(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    now: Now,
    status: Annotated[Text, Query(max_length=20)] = "open",
    building_id: Annotated[Text, Query(max_length=12)] = "",
    category: Annotated[Text, Query(max_length=40)] = "",
    mine: Annotated[Text, Query(max_length=5)] = "",
    page: PageNumber = 1,
) -> Response:
    """The company's requests, the least time left first: overdue ones lead."""
    settings = request.app.state.settings
    today = _today(settings, now)
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
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = _load_rows(
        session,
        query.order_by(ServiceRequest.deadline_at, ServiceRequest.id)
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE),
    )
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
        categories=_categories(session, actor),
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
    now: Now,
    building_id: Annotated[Text, Query(max_length=12)] = "",
    apartment: Annotated[Text, Query(max_length=20)] = "",
) -> Response:
    typed = {"building_id": building_id, "apartment": apartment}
    return _call_page(request, session, actor, now, typed=typed, errors={}, lookup=bool(building_id))


@router.post("/console/requests", response_class=HTMLResponse)
def file_for_caller(
    request: Request,
    session: SessionDep,
    actor: CallTakerActor,
    now: Now,
    building_id: Annotated[Text, Form(max_length=12)] = "",
    apartment: Annotated[Text, Form(max_length=20)] = "",
    caller: Annotated[Text, Form(max_length=12)] = "",
    category_id: Annotated[Text, Form(max_length=12)] = "",
    description: Annotated[Text, Form(max_length=4000)] = "",
    emergency: Annotated[Text | None, Form(max_length=5)] = None,
) -> Response:
    settings = request.app.state.settings
    today = _today(settings, now)
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
    errors: dict[str, str] = {}
    if place.building is None:
        errors["building_id"] = _("Choose one of your company's buildings.")
    elif apartment.strip() and place.apartment is None:
        errors["apartment"] = _("There is no apartment with this number in the building.")
    caller_id = parse_id(caller)
    if caller_id is not None and caller_id not in {person.id for person in place.people}:
        errors["caller"] = _("Choose one of the people registered in the apartment.")
    category = _category(session, actor, category_id)
    if category is None:
        errors["category_id"] = _("Choose what the problem is about.")
    errors |= _description_errors(_, description)
    if errors:
        return _call_page(request, session, actor, now, typed=typed, errors=errors, lookup=True)
    assert place.building is not None and category is not None
    too_many = _("This resident has already filed %(limit)s requests today, the most allowed in a day.")
    same = _(
        "The same request was already filed today (number %(number)s). "
        "Add a comment to it instead of filing it again."
    )
    with _filing_refusals(session, errors, settings, too_many=too_many, same=same):
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
        return _call_page(request, session, actor, now, typed=typed, errors=errors, lookup=True)
    return RedirectResponse(f"/requests/{filed.id}?filed=1", status_code=303)


@dataclass(frozen=True)
class CallPlace:
    building: Building | None
    apartment: Apartment | None
    people: list[Person]


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

    def current(model: Any) -> Any:
        return (model.valid_from <= today) & or_(model.valid_until.is_(None), model.valid_until > today)

    owners = select(Ownership.person_id).where(Ownership.apartment_id == apartment_id, current(Ownership))
    living = select(Residence.person_id).where(Residence.apartment_id == apartment_id, current(Residence))
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
    now: datetime,
    *,
    typed: dict[str, str],
    errors: dict[str, str],
    lookup: bool,
) -> Response:
    settings = request.app.state.settings
    today = _today(settings, now)
    _ = gettext_for(request, actor)
    place = _call_place(session, actor, today, typed.get("building_id", ""), typed.get("apartment", ""))
    if lookup and not errors:
        if place.building is None:
            errors = {"building_id": _("Choose one of your company's buildings.")}
        elif typed.get("apartment", "").strip() and place.apartment is None:
            errors = {"apartment": _("There is no apartment with this number in the building.")}
    return render(
        request,
        "requests/call.html",
        status_code=422 if errors and request.method == "POST" else 200,
        actor=actor,
        buildings=_building_choices(session, actor, today),
        place=place,
        categories=_categories(session, actor),
        typed=typed,
        errors=errors,
        emergency_minutes=settings.requests.emergency_deadline_minutes,
    )
