"""Factories for quality-score tests: service requests and incidents written as plain rows.

The scores read the facts a request carries (deadline, resolution, overdue flag, rating,
reopens), so these set them directly instead of replaying the lifecycle; what the
lifecycle writes is tested with the requests themselves.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from housing.accounts.models import Role, User
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.incidents.service import close_incident, open_incident
from housing.registry.models import Building, ManagementCompany
from housing.requests import service as requests
from housing.requests.models import RequestCategory, RequestStatus, ServiceRequest
from tests.factories.core import make_user

TASHKENT = ZoneInfo("Asia/Tashkent")
_seq = itertools.count(1)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Tashkent wall-clock time as the UTC moment the database stores."""
    return datetime(year, month, day, hour, minute, tzinfo=TASHKENT).astimezone(UTC)


def make_filer(session: Session) -> User:
    return make_user(session, Role.admin)


def make_category(session: Session, minutes: int = 24 * 60) -> RequestCategory:
    return requests.create_category(
        session, code=f"score_{next(_seq)}", name="Roof leak", deadline_minutes=minutes
    )


def add_request(
    session: Session,
    company: ManagementCompany,
    building: Building,
    *,
    category: RequestCategory,
    filed_by: User,
    filed: datetime,
    deadline: timedelta = timedelta(days=1),
    resolved_after: timedelta | None = None,
    status: RequestStatus | None = None,
    emergency: bool = False,
    overdue: bool = False,
    rating: int | None = None,
    reopen_count: int = 0,
) -> ServiceRequest:
    resolved_at = filed + resolved_after if resolved_after is not None else None
    request = ServiceRequest(
        company_id=company.id,
        building_id=building.id,
        category_id=category.id,
        filed_by_id=filed_by.id,
        description=f"Request {next(_seq)}",
        emergency=emergency,
        status=status or (RequestStatus.resolved if resolved_at else RequestStatus.accepted),
        created_at=filed,
        deadline_at=filed + deadline,
        accepted_at=filed + timedelta(minutes=2),
        resolved_at=resolved_at,
        overdue=overdue,
        overdue_at=filed + deadline if overdue else None,
        reopen_count=reopen_count,
        rating=rating,
        rated_at=resolved_at if rating else None,
    )
    session.add(request)
    session.flush()
    return request


def add_incident(
    session: Session,
    building: Building | None = None,
    *,
    started: datetime,
    ended: datetime | None,
    utility: Utility = Utility.hot_water,
    source: IncidentSource = IncidentSource.sensor,
    apartment_id: int | None = None,
    building_id: int | None = None,
    origin: str | None = None,
    deviation: Decimal | None = None,
) -> ServiceIncident:
    """An incident in `building` (or the building with `building_id`), by a numbered sensor unless
    told, opened and (when `ended` is given) closed by the incident verbs."""
    incident = open_incident(
        session,
        building_id=building.id if building is not None else building_id,
        apartment_id=apartment_id,
        utility=utility,
        source=source,
        origin=origin or f"sensor:T-{next(_seq)}",
        started_at=started,
        deviation=deviation,
    )
    return incident if ended is None else close_incident(session, incident, ended_at=ended)


def first_of(year: int, month: int) -> date:
    return date(year, month, 1)
