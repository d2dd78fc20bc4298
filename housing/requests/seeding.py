"""The default request categories and, for the demo, a few requests in every state.

Running it again adds nothing: a category is added when its code is missing, so an
admin's edits to a seeded category's deadline survive. Deadlines from DESIGN.md (emergency
30 minutes to contain, blocked sewer 2 hours, roof leak, entrance door and lift 1 day,
common-area lighting 7 days); the ones marked ASSUMPTION are not named there and follow
the same scale: a home without heat or water within a day, comfort issues within days.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from housing.accounts.models import Role, User
from housing.clock import local_today
from housing.db import session_scope, utcnow
from housing.registry.models import Apartment
from housing.registry.queries import home_apartment_ids
from housing.registry.seeding import demo_username
from housing.requests import service
from housing.requests.lifecycle import Mover
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from housing.settings import Settings

HOUR = 60
DAY = 24 * HOUR


@dataclass(frozen=True)
class DefaultCategory:
    code: str
    name: str
    deadline_minutes: int
    emergency: bool = False


DEFAULT_CATEGORIES = [
    DefaultCategory("emergency", "Emergency: burst pipe, no power, gas smell", 30, emergency=True),
    DefaultCategory("blocked_sewer", "Blocked sewer", 2 * HOUR),
    DefaultCategory("roof_leak", "Roof leak", DAY),
    DefaultCategory("entrance_door", "Broken entrance door", DAY),
    DefaultCategory("lift", "Lift out of order", DAY),
    DefaultCategory("common_lighting", "Common-area lighting", 7 * DAY),
    DefaultCategory("heating", "No heating or cold radiators", DAY),  # ASSUMPTION
    DefaultCategory("water_supply", "No water or weak pressure", DAY),  # ASSUMPTION
    DefaultCategory("intercom", "Intercom or entrance lock", 3 * DAY),  # ASSUMPTION
    DefaultCategory("cleaning", "Stairwell and yard cleaning, waste", 2 * DAY),  # ASSUMPTION
    DefaultCategory("other", "Something else", 7 * DAY),  # ASSUMPTION
]


def seed_request_categories(session: Session) -> int:
    """Adds the default categories that are missing; returns how many it added."""
    taken = set(session.exec(select(RequestCategory.code)))
    added = 0
    for default in DEFAULT_CATEGORIES:
        if default.code not in taken:
            service.create_category(
                session,
                code=default.code,
                name=default.name,
                deadline_minutes=default.deadline_minutes,
                emergency=default.emergency,
            )
            added += 1
    return added


# (category, description, what happens to it after filing, hours ago it was filed)
DEMO_REQUESTS = [
    ("roof_leak", "Water drips from the ceiling in the kitchen after rain", [], 2),
    ("lift", "The lift stops between the 4th and 5th floors", [RequestStatus.accepted], 30),
    (
        "blocked_sewer",
        "The sewer in the basement is blocked, it smells",
        [RequestStatus.accepted, RequestStatus.in_progress],
        5,
    ),
    (
        "common_lighting",
        "No light on the 3rd floor landing",
        [RequestStatus.accepted, RequestStatus.resolved],
        100,
    ),
    ("entrance_door", "The entrance door does not close", [], 24 * 5),
]


def ensure_request_categories(engine: Engine) -> str:
    with session_scope(engine) as session:
        added = seed_request_categories(session)
    return f"{added} request categories added" if added else "request categories already there"


def seed_demo_requests(engine: Engine, settings: Settings) -> str:
    """A handful of requests from the demo resident (demo-resident), in several states, once."""
    with session_scope(engine) as session:
        seed_request_categories(session)
        if session.exec(select(ServiceRequest.id).limit(1)).first() is not None:
            return "demo requests already there"
        resident = _user(session, Role.resident)
        if resident is None or resident.person_id is None:
            return "no demo resident to file demo requests"
        apartment = _home_of(session, resident.person_id, settings)
        if apartment is None:
            return "the demo resident has no home to file demo requests for"
        staff = _user(session, Role.dispatcher)
        codes = {c.code: c.id for c in session.exec(select(RequestCategory))}
        now = utcnow()
        for code, description, moves, hours_ago in DEMO_REQUESTS:
            filed_at = now - timedelta(hours=hours_ago)
            request = service.file_request(
                session,
                filed_by_id=resident.id,
                requester_person_id=resident.person_id,
                building_id=apartment.building_id,
                apartment_id=apartment.id
                if code not in ("lift", "entrance_door", "common_lighting")
                else None,
                category_id=codes[code],
                description=description,
                emergency=None,
                now=filed_at,
                timezone=settings.timezone,
                daily_limit=len(DEMO_REQUESTS),
                emergency_deadline=settings.requests.emergency_deadline,
            )
            _move(session, request, moves, staff, filed_at, settings)
    return f"{len(DEMO_REQUESTS)} demo service requests filed"


def _user(session: Session, role: Role) -> User | None:
    return session.exec(select(User).where(User.username == demo_username(role))).first()


def _move(
    session: Session,
    request: ServiceRequest,
    moves: list[RequestStatus],
    staff: User | None,
    filed_at: datetime,
    settings: Settings,
) -> None:
    for step, to in enumerate(moves, start=1):
        service.transition_request(
            session,
            request,
            to=to,
            actor_id=staff.id if staff else None,
            mover=Mover.staff,
            now=filed_at + timedelta(minutes=20 * step),
            reopen_window=settings.requests.reopen_window,
            emergency_deadline=settings.requests.emergency_deadline,
        )


def _home_of(session: Session, person_id: int, settings: Settings) -> Apartment | None:
    homes = home_apartment_ids(person_id, local_today(settings.timezone)).subquery()
    return session.exec(select(Apartment).where(Apartment.id.in_(select(homes.c.apartment_id)))).first()
