"""Open311 verbs: API keys, and filing a request that came in through GeoReport v2.

Flush, never commit. Filing goes through housing.requests.service.file_request, so a
request from a civic app follows exactly the rules of one from the resident portal.
"""

import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, select

from housing.accounts.models import Role, User
from housing.accounts.service import token_digest
from housing.accounts.usernames import normal_username
from housing.errors import Conflict, Forbidden, Invalid, NotFound
from housing.open311 import queries
from housing.open311.locate import locate_building
from housing.open311.models import Open311ApiKey
from housing.open311.schemas import Filing
from housing.requests import service as requests_service
from housing.requests.models import ServiceRequest

# API keys


def create_api_key(session: Session, *, name: str, username: str) -> tuple[str, Open311ApiKey]:
    """Returns the key itself, which is shown once and never stored, and its record."""
    name = name.strip()
    if not name:
        raise Invalid("name the key after whoever will hold it", field="name")
    if session.exec(select(Open311ApiKey.id).where(Open311ApiKey.name == name)).first() is not None:
        raise Conflict(f"an Open311 key named {name!r} already exists", field="name")
    user = session.exec(select(User).where(User.username == normal_username(username))).first()
    if user is None or not user.is_active:
        raise Invalid(f"no active user {username!r} to file the requests under", field="user")
    if user.role == Role.resident:
        # A key files requests for any building in the city; a resident's name on them would mislead.
        raise Invalid(
            "requests filed with a key need a staff or integration user, not a resident", field="user"
        )
    key = secrets.token_urlsafe(32)
    record = Open311ApiKey(name=name, key_hash=token_digest(key), user_id=user.id)
    session.add(record)
    session.flush()
    return key, record


def deactivate_api_key(session: Session, *, name: str) -> Open311ApiKey:
    record = session.exec(select(Open311ApiKey).where(Open311ApiKey.name == name.strip())).first()
    if record is None:
        raise NotFound(f"no Open311 key named {name!r}")
    record.active = False
    session.add(record)
    session.flush()
    return record


def key_user(session: Session, key: str | None) -> User:
    """The user a request is filed under; a missing, unknown or retired key is refused."""
    if not key:
        raise Forbidden("api_key is required to file a request")
    row = session.exec(
        select(Open311ApiKey, User)
        .join(User, User.id == Open311ApiKey.user_id)
        .where(Open311ApiKey.key_hash == token_digest(key))
    ).first()
    if row is None or not row[0].active or not row[1].is_active:
        raise Forbidden("api_key is not valid")
    return row[1]


# Filing


def file_open311_request(
    session: Session,
    *,
    filer: User,
    filing: Filing,
    now: datetime,
    timezone: str,
    daily_limit: int,
    radius_m: float,
    emergency_deadline: timedelta,
) -> ServiceRequest:
    """Finds the category and the building, then files as the resident portal would.

    No requester person: a civic app's user is not one of our residents as far as we can
    tell, so the request is the building's (a common-area request), filed by the key's user.
    """
    category = queries.public_service(session, filing.service_code)
    if category is None:
        raise NotFound(f"service_code {filing.service_code!r} is not one of ours; see services.json")
    building = locate_building(session, filing.place, radius_m=radius_m)
    return requests_service.file_request(
        session,
        filed_by_id=filer.id,
        requester_person_id=None,
        building_id=building.id,
        apartment_id=None,
        category_id=category.id,
        description=filing.description,
        emergency=filing.emergency,
        now=now,
        timezone=timezone,
        daily_limit=daily_limit,
        emergency_deadline=emergency_deadline,
    )
