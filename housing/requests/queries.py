"""What each actor may see of service requests, written once and used by every route.

Residents: requests on the apartments they own or live in today, and any request filed by
them or for them (a building-wide one too). Company staff: the requests on the buildings their
company manages today, whichever company they were filed with, so that a building's requests
move to its new company on the day the register hands it over (an owners' decision or an
admin's change) and the old company no longer sees them. A request still names the company it
was filed with (`company_id`: whom the quality score holds to it). Officials and admins: all.
The filters are plain functions of the actor; beside them, the route dependencies that load
one request within that scope (`VisibleRequest`, `VisibleRequestRow`: 404 outside it).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select, or_
from sqlmodel import Session, select

from housing.accounts.models import User
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import NotFound
from housing.registry.models import Apartment, Building
from housing.registry.queries import home_apartment_ids, managed_building_ids
from housing.requests import deadlines, lifecycle
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from housing.validation import Id


def visible_requests(actor: Actor, today: date) -> Select:
    query = select(ServiceRequest)
    if actor.sees_whole_city:
        return query
    if actor.is_company_staff:
        return query.where(ServiceRequest.building_id.in_(managed_building_ids(actor.company_id, today)))
    mine = [ServiceRequest.filed_by_id == actor.user_id]
    if actor.person_id is not None:
        homes = home_apartment_ids(actor.person_id, today).subquery()
        mine += [
            ServiceRequest.requester_person_id == actor.person_id,
            ServiceRequest.apartment_id.in_(select(homes.c.apartment_id)),
        ]
    return query.where(or_(*mine))


def visible_categories(actor: Actor) -> Select:
    """Everyone picks from the active categories; admins also see the retired ones."""
    query = select(RequestCategory)
    if actor.role == "admin":
        return query
    return query.where(RequestCategory.active.is_(True))


# One request, loaded within the actor's scope: outside it reads as missing, so ids do not leak.


def _visible_request(
    request_id: Id, session: SessionDep, actor: CurrentActor, today: Today
) -> ServiceRequest:
    found = session.exec(visible_requests(actor, today).where(ServiceRequest.id == request_id)).first()
    if found is None:
        raise NotFound(f"request {request_id} not found")
    return found


VisibleRequest = Annotated[ServiceRequest, Depends(_visible_request)]


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
        return RequestStatus(self.request.status) in lifecycle.OPEN and deadlines.is_late(
            self.request.deadline_at, now
        )


def with_names(query: Select) -> Select:
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


def load_rows(session: Session, query: Select) -> list[RequestRow]:
    return [RequestRow(*row) for row in session.execute(with_names(query)).all()]


def _visible_request_row(
    request_id: Id, session: SessionDep, actor: CurrentActor, today: Today
) -> RequestRow:
    rows = load_rows(session, visible_requests(actor, today).where(ServiceRequest.id == request_id))
    if not rows:
        raise NotFound(f"request {request_id} not found")
    return rows[0]


VisibleRequestRow = Annotated[RequestRow, Depends(_visible_request_row)]
