"""Factories for service requests: plain functions that flush."""

import itertools
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

from PIL import Image
from sqlmodel import Session

from housing.accounts.models import Role, User
from housing.registry import service as registry
from housing.registry.models import Apartment
from housing.requests import service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from tests.factories.core import make_apartment, make_owner, make_person, make_user

TIMEZONE = "Asia/Tashkent"
# A Tuesday, 10:00 in Tashkent.
NOON = datetime(2026, 11, 17, 5, 0, tzinfo=UTC)
REOPEN_WINDOW = timedelta(days=7)
_seq = itertools.count(1)


def make_category(session: Session, **kw) -> RequestCategory:
    fields = {"code": f"category_{next(_seq)}", "name": "Roof leak", "deadline_minutes": 24 * 60} | kw
    return service.create_category(session, **fields)


def make_resident(session: Session, apartment: Apartment | None = None, *, owner: bool = True) -> User:
    """An owner of the whole apartment, or (owner=False) a registered tenant living there."""
    apartment = apartment or make_apartment(session)
    if owner:
        person = make_owner(session, apartment)
    else:
        person = make_person(session)
        registry.add_residence(
            session, apartment_id=apartment.id, person_id=person.id, valid_from=date(2020, 1, 1)
        )
    return make_user(session, Role.resident, person_id=person.id)


def make_request(
    session: Session,
    resident: User,
    apartment: Apartment,
    category: RequestCategory | None = None,
    *,
    now: datetime = NOON,
    **kw,
) -> ServiceRequest:
    fields = {
        "filed_by_id": resident.id,
        "requester_person_id": resident.person_id,
        "building_id": apartment.building_id,
        "apartment_id": apartment.id,
        "category_id": (category or make_category(session)).id,
        "description": f"Water drips from the ceiling ({next(_seq)})",
        "emergency": None,
        "now": now,
        "timezone": TIMEZONE,
        "daily_limit": 10,
    } | kw
    return service.file_request(session, **fields)


def move(
    session: Session,
    request: ServiceRequest,
    *steps: RequestStatus,
    now: datetime = NOON,
    actor_id: int | None = None,
    **kw,
) -> None:
    """Staff moves, one minute apart."""
    for i, to in enumerate(steps, start=1):
        service.transition_request(
            session,
            request,
            to=to,
            actor_id=actor_id,
            mover=Mover.staff,
            now=now + timedelta(minutes=i),
            reopen_window=REOPEN_WINDOW,
            **kw,
        )


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()
