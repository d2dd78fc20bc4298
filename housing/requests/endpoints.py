"""JSON routes of service requests: load within the actor's scope, one service call, return."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile, status
from fastapi.responses import FileResponse
from sqlmodel import Session, select

from housing import actors
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import (
    CurrentActor,
    FilerActor,
    ParticipantActor,
    ResidentActor,
    require_roles,
)
from housing.db import SessionDep, get_or_404
from housing.deps import Now, SettingsDep, Today
from housing.errors import Forbidden, Invalid, NotFound
from housing.registry import queries as registry_queries
from housing.registry.models import Apartment, Building, Person
from housing.requests import service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestCategory, RequestPhoto, RequestStatus, ServiceRequest
from housing.requests.queries import VisibleRequest, visible_categories, visible_requests
from housing.requests.schemas import (
    AssignmentUpdate,
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    CommentCreate,
    CommentRead,
    PhotoRead,
    RatingCreate,
    RequestCreate,
    RequestDetail,
    RequestRead,
    TransitionCreate,
    TransitionRead,
)
from housing.routing import Paging, paginate
from housing.schemas import API_PROBLEMS, Page, problems
from housing.validation import Id, Text

router = APIRouter(tags=["requests"], responses=API_PROBLEMS)

# Who files: a resident for themselves, a dispatcher or manager after a phone call.
# Officials only read; everyone else takes part in a request they can see.


# Categories: everyone reads, admins write.


@router.get("/request-categories", response_model=Page[CategoryRead])
def list_categories(session: SessionDep, actor: CurrentActor, paging: Paging):
    return paginate(session, visible_categories(actor), paging, RequestCategory.code)


@router.post(
    "/request-categories",
    response_model=CategoryRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_roles(actors.ADMINS))],
)
def create_category(body: CategoryCreate, session: SessionDep):
    return service.create_category(session, **body.model_dump())


@router.patch(
    "/request-categories/{category_id}",
    response_model=CategoryRead,
    dependencies=[Depends(require_roles(actors.ADMINS))],
)
def update_category(category_id: Id, body: CategoryUpdate, session: SessionDep):
    category = get_or_404(session, RequestCategory, category_id, "category")
    return service.update_category(session, category, body.model_dump(exclude_unset=True))


# Requests


@router.get("/requests", response_model=Page[RequestRead])
def list_requests(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    building_id: Annotated[Id | None, Query()] = None,
    category: Annotated[Text | None, Query(description="Category code")] = None,
    overdue: Annotated[bool | None, Query()] = None,
    escalated: Annotated[bool | None, Query(description="Overdue for days: the officials' list")] = None,
):
    query = visible_requests(actor, today)
    if status_ is not None:
        query = query.where(ServiceRequest.status == status_)
    if building_id is not None:
        query = query.where(ServiceRequest.building_id == building_id)
    if category is not None:
        codes = select(RequestCategory.id).where(RequestCategory.code == category)
        query = query.where(ServiceRequest.category_id.in_(codes))
    if overdue is not None:
        query = query.where(ServiceRequest.overdue.is_(overdue))
    if escalated is not None:
        query = query.where(ServiceRequest.escalated.is_(escalated))
    return paginate(session, query, paging, ServiceRequest.id.desc())


@router.post(
    "/requests",
    response_model=RequestRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(429, why={429: "The resident's requests of the day are used up"}),
)
def file_request(
    body: RequestCreate, session: SessionDep, actor: FilerActor, settings: SettingsDep, now: Now, today: Today
):
    building_id = _place(session, actor, today, body)
    return service.file_request(
        session,
        filed_by_id=actor.user_id,
        requester_person_id=_requester(session, actor, today, body.requester_person_id),
        building_id=building_id,
        apartment_id=body.apartment_id,
        category_id=body.category_id,
        description=body.description,
        emergency=body.emergency,
        now=now,
        timezone=settings.timezone,
        daily_limit=settings.requests.daily_limit,
        emergency_deadline=settings.requests.emergency_deadline,
    )


def _place(session: Session, actor: Actor, today: date, body: RequestCreate) -> int:
    """The building the request is about; the apartment or building must be in the filer's scope."""
    if body.apartment_id is not None:
        query = registry_queries.visible_apartments(actor, today).where(Apartment.id == body.apartment_id)
        apartment = session.exec(query).first()
        if apartment is None:
            raise Invalid(f"apartment {body.apartment_id} does not exist", field="apartment_id")
        if body.building_id not in (None, apartment.building_id):
            raise Invalid(
                f"apartment {apartment.id} is not in building {body.building_id}", field="building_id"
            )
        return apartment.building_id
    if body.building_id is None:
        raise Invalid("name the apartment, or the building for a common-area problem", field="apartment_id")
    query = registry_queries.visible_buildings(actor, today).where(Building.id == body.building_id)
    if session.exec(query).first() is None:
        raise Invalid(f"building {body.building_id} does not exist", field="building_id")
    return body.building_id


def _requester(session: Session, actor: Actor, today: date, person_id: int | None) -> int | None:
    """A resident files for themselves; staff may name the caller, who must live in their buildings."""
    if actor.role == Role.resident:
        if person_id not in (None, actor.person_id):
            raise Forbidden("a resident files requests for themselves only")
        return actor.person_id
    if person_id is not None:
        query = registry_queries.visible_people(actor, today).where(Person.id == person_id)
        if session.exec(query).first() is None:
            raise Invalid(f"person {person_id} does not exist", field="requester_person_id")
    return person_id


@router.get("/requests/{request_id}", response_model=RequestDetail)
def read_request(session: SessionDep, actor: CurrentActor, request: VisibleRequest):
    return _detail(session, actor, request)


def _detail(session: Session, actor: Actor, request: ServiceRequest) -> RequestDetail:
    return RequestDetail.model_validate(
        {
            **RequestRead.model_validate(request).model_dump(),
            "transitions": service.transitions_of(session, request.id),
            # Internal notes are for whoever works the request, never for the resident.
            "comments": service.comments_of(session, request.id, with_internal=actor.role != Role.resident),
            "photos": service.photos_of(session, request.id),
        }
    )


@router.post(
    "/requests/{request_id}/transitions", response_model=TransitionRead, status_code=status.HTTP_201_CREATED
)
def move_request(
    body: TransitionCreate,
    session: SessionDep,
    actor: ParticipantActor,
    settings: SettingsDep,
    now: Now,
    request: VisibleRequest,
):
    return service.transition_request(
        session,
        request,
        to=body.to,
        actor_id=actor.user_id,
        mover=Mover.resident if actor.role == Role.resident else Mover.staff,
        now=now,
        reopen_window=settings.requests.reopen_window,
        emergency_deadline=settings.requests.emergency_deadline,
        reason=body.reason,
        until=body.until,
    )


@router.put(
    "/requests/{request_id}/assignment",
    response_model=RequestRead,
    dependencies=[Depends(require_roles(actors.DISPATCHERS))],
)
def assign_request(body: AssignmentUpdate, session: SessionDep, request: VisibleRequest, today: Today):
    return service.assign_request(session, request, assignee_id=body.assignee_id, today=today)


@router.post(
    "/requests/{request_id}/comments", response_model=CommentRead, status_code=status.HTTP_201_CREATED
)
def comment_on_request(
    body: CommentCreate,
    session: SessionDep,
    actor: ParticipantActor,
    now: Now,
    request: VisibleRequest,
):
    if body.internal and actor.role == Role.resident:
        raise Forbidden("internal notes are for staff; a resident's comment is visible to staff anyway")
    return service.add_comment(
        session, request, author_id=actor.user_id, body=body.body, internal=body.internal, now=now
    )


@router.post("/requests/{request_id}/rating", response_model=RequestRead)
def rate_request(
    body: RatingCreate,
    session: SessionDep,
    actor: ResidentActor,
    now: Now,
    request: VisibleRequest,
):
    return service.rate_request(
        session, request, person_id=actor.person_id, rating=body.rating, comment=body.comment, now=now
    )


@router.post(
    "/requests/{request_id}/photos",
    response_model=PhotoRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(415, why={415: "Not a JPEG, PNG or WebP picture"}),
)
def upload_photo(
    photo: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
    session: SessionDep,
    actor: ParticipantActor,
    settings: SettingsDep,
    request: VisibleRequest,
):
    limit = settings.requests.max_photo_bytes
    # Read one byte past the limit: enough to know it is too large without holding more.
    data = photo.file.read(limit + 1)
    return service.attach_photo(
        session,
        request,
        data=data,
        uploaded_by_id=actor.user_id,
        photo_dir=settings.requests.photo_dir,
        max_bytes=limit,
        max_photos=settings.requests.max_photos,
    )


@router.get("/requests/{request_id}/photos/{photo_id}", response_class=FileResponse)
def download_photo(photo_id: Id, session: SessionDep, settings: SettingsDep, request: VisibleRequest):
    photo = session.get(RequestPhoto, photo_id)
    if photo is None or photo.request_id != request.id:
        raise NotFound(f"photo {photo_id} not found")
    return FileResponse(settings.requests.photo_dir / photo.file_name, media_type=photo.content_type)
