"""HTML routes of service requests for residents (`/requests`): their list, filing one, one
request's page (staff see theirs here too), rating, reopening and comments.

Every form posts, then redirects (303) to the page that shows the result, or re-renders the
form with the reason next to the field. The company's queue is in console_pages.py.
"""

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, func, select

from housing import clock
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import ParticipantActor, ResidentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import Conflict, DomainError
from housing.registry.models import Apartment, Building
from housing.registry.queries import visible_apartments
from housing.requests import lifecycle, service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestStatus, ServiceRequest
from housing.requests.page_parts import (
    DESCRIPTION_MAX,
    PostedForm,
    category_choices,
    chosen_category,
    description_errors,
    filing_refusals,
    page_rows,
    request_page,
)
from housing.requests.photos import inspect_photo
from housing.requests.queries import VisibleRequestRow, visible_requests
from housing.settings import Settings
from housing.validation import PageNumber, Text
from housing.web import gettext_for, render

router = APIRouter(include_in_schema=False)


@router.get("/requests", response_class=HTMLResponse)
def my_requests(
    request: Request,
    session: SessionDep,
    actor: ParticipantActor,
    now: Now,
    today: Today,
    page: PageNumber = 1,
) -> Response:
    if actor.role is not Role.resident:
        return RedirectResponse("/console/requests", status_code=303)
    query = visible_requests(actor, today)
    paging, rows = page_rows(
        session, query, page, col(ServiceRequest.created_at).desc(), col(ServiceRequest.id).desc()
    )
    return render(request, "requests/mine.html", actor=actor, rows=rows, paging=paging, now=now)


@router.get("/requests/new", response_class=HTMLResponse)
def new_request_form(
    request: Request, session: SessionDep, actor: ResidentActor, settings: SettingsDep, today: Today
) -> Response:
    return _filing_page(request, session, actor, settings, today, typed={}, errors={})


@router.post("/requests", response_class=HTMLResponse)
def file_my_request(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    settings: SettingsDep,
    now: Now,
    today: Today,
    place: Annotated[Text, Form(max_length=30)] = "",
    category_id: Annotated[Text, Form(max_length=12)] = "",
    description: Annotated[Text, Form(max_length=4000)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _ = gettext_for(request, actor)
    typed = {"place": place, "category_id": category_id, "description": description}
    errors: dict[str, str] = {}
    places = {option["value"]: option for option in _places(session, actor, today)}
    chosen = places.get(place)
    if chosen is None:
        errors["place"] = _("Choose the apartment, or the building for a common-area problem.")
    category = chosen_category(session, actor, category_id)
    if category is None:
        errors["category_id"] = _("Choose what the problem is about.")
    errors |= description_errors(_, description)
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
        return _filing_page(request, session, actor, settings, today, typed=typed, errors=errors)
    assert chosen is not None and category is not None
    too_many = _(
        "You have filed %(limit)s requests today, the most one resident may file in a day. "
        "Try again tomorrow; in an emergency call the dispatcher."
    )
    same = _(
        "You already filed the same request today (number %(number)s). "
        "Add a comment to it instead of filing it again."
    )
    with filing_refusals(session, errors, settings, too_many=too_many, same=same):
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
        return _filing_page(request, session, actor, settings, today, typed=typed, errors=errors)
    return RedirectResponse(f"/requests/{filed.id}?filed=1", status_code=303)


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


def _filed_today(session: Session, actor: Actor, settings: Settings, today: date) -> int:
    start = clock.local_midnight(today, settings.timezone)
    end = clock.local_midnight(today + timedelta(days=1), settings.timezone)
    return session.exec(
        select(func.count())
        .select_from(ServiceRequest)
        .where(
            ServiceRequest.requester_person_id == actor.person_id,
            ServiceRequest.created_at >= start,
            ServiceRequest.created_at < end,
        )
    ).one()


def _filing_page(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    today: date,
    *,
    typed: dict[str, str],
    errors: dict[str, str],
) -> Response:
    return render(
        request,
        "requests/new.html",
        status_code=422 if errors else 200,
        actor=actor,
        places=_places(session, actor, today),
        categories=category_choices(session, actor),
        typed=typed,
        errors=errors,
        daily_limit=settings.requests.daily_limit,
        filed_today=_filed_today(session, actor, settings, today),
        max_photo_mb=settings.requests.max_photo_bytes // (1024 * 1024),
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def one_request(
    request: Request,
    session: SessionDep,
    actor: ParticipantActor,
    settings: SettingsDep,
    now: Now,
    row: VisibleRequestRow,
    filed: Annotated[int, Query(ge=0, le=1)] = 0,
    done: Annotated[Text | None, Query(max_length=20)] = None,
) -> Response:
    return request_page(request, session, actor, settings, now, row, filed=bool(filed), done=done)


@router.post("/requests/{request_id}/rating", response_class=HTMLResponse)
def rate(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    settings: SettingsDep,
    now: Now,
    row: VisibleRequestRow,
    rating: Annotated[Text, Form(max_length=2)] = "",
    comment: Annotated[Text, Form(max_length=1000)] = "",
) -> Response:
    form = PostedForm(request, session, actor, now, settings, row)
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
    return form.done("rated")


@router.post("/requests/{request_id}/reopen", response_class=HTMLResponse)
def reopen(
    request: Request,
    session: SessionDep,
    actor: ResidentActor,
    settings: SettingsDep,
    now: Now,
    row: VisibleRequestRow,
    reason: Annotated[Text, Form(max_length=1000)] = "",
) -> Response:
    form = PostedForm(request, session, actor, now, settings, row)
    _ = gettext_for(request, actor)
    if not reason.strip():
        return form.refused(errors={"reopen": _("Say what is still wrong.")})

    def explain(exc: DomainError) -> str:
        if not isinstance(exc, Conflict):
            return exc.detail
        return _("A request can be reopened within %(days)s days of its resolution; file a new one.") % {
            "days": settings.requests.reopen_days
        }

    return form.transition(
        RequestStatus.reopened,
        Mover.resident,
        key="reopen",
        typed={"reason": reason},
        reason=reason,
        explain=explain,
    )


@router.post("/requests/{request_id}/comments", response_class=HTMLResponse)
def comment(
    request: Request,
    session: SessionDep,
    actor: ParticipantActor,
    settings: SettingsDep,
    now: Now,
    row: VisibleRequestRow,
    body: Annotated[Text, Form(max_length=4000)] = "",
    for_resident: Annotated[Text | None, Form(max_length=5)] = None,
) -> Response:
    form = PostedForm(request, session, actor, now, settings, row)
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
    return form.done("commented#comments")
