"""What the city dashboard reads of incidents: every building's interruptions in a month.

Sensor-detected incidents, reported ones and planned outages, each with its building,
district and the company that managed the building when it began, and its duration
against the interruption the rules allow (`allowances.py`). One query returns a page and
a second counts them; durations are worked out from the rows, nothing is read per row.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, and_, or_, select
from sqlmodel import Session, col

from housing.incidents.allowances import allowed_interruption
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.registry.models import Building, BuildingManagement, District, ManagementCompany
from housing.registry.periods import in_force
from housing.routing import counted_page
from housing.settings import OutageSettings


@dataclass(frozen=True)
class CityIncident:
    id: int
    utility: Utility
    source: IncidentSource
    started_at: datetime
    ended_at: datetime | None
    deviation: Decimal | None
    detail: str
    building_id: int
    address: str
    district_id: int
    district: str
    company_id: int | None
    company: str | None
    ongoing: bool
    duration_hours: float
    allowed_hours: float

    @property
    def over_allowance(self) -> bool:
        return self.duration_hours > self.allowed_hours


def _incidents(
    starts: datetime,
    ends: datetime,
    district_id: int | None,
    utility: Utility | None,
    source: IncidentSource | None,
) -> Select:
    manager = BuildingManagement
    query = (
        select(
            ServiceIncident.id,
            ServiceIncident.utility,
            ServiceIncident.source,
            ServiceIncident.started_at,
            ServiceIncident.ended_at,
            ServiceIncident.deviation,
            ServiceIncident.detail,
            ServiceIncident.building_id,
            Building.address,
            Building.district_id,
            District.name.label("district"),
            manager.company_id,
            ManagementCompany.name.label("company"),
        )
        .join(Building, Building.id == ServiceIncident.building_id)
        .join(District, District.id == Building.district_id)
        # The management period the incident began in (periods are half-open).
        .outerjoin(
            manager,
            and_(
                manager.building_id == ServiceIncident.building_id,
                in_force(manager, ServiceIncident.started_at),
            ),
        )
        .outerjoin(ManagementCompany, ManagementCompany.id == manager.company_id)
        .where(
            ServiceIncident.started_at < ends,
            or_(col(ServiceIncident.ended_at).is_(None), ServiceIncident.ended_at > starts),
        )
    )
    if district_id is not None:
        query = query.where(Building.district_id == district_id)
    if utility is not None:
        query = query.where(ServiceIncident.utility == utility)
    if source is not None:
        query = query.where(ServiceIncident.source == source)
    return query


def city_incidents(
    session: Session,
    *,
    starts: datetime,
    ends: datetime,
    now: datetime,
    outages: OutageSettings,
    district_id: int | None = None,
    utility: Utility | None = None,
    source: IncidentSource | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[CityIncident], int]:
    """Incidents that overlap [starts, ends), newest first: a page of them and how many in all."""
    rows, total = counted_page(
        session,
        _incidents(starts, ends, district_id, utility, source),
        col(ServiceIncident.started_at).desc(),
        col(ServiceIncident.id).desc(),
        limit=limit,
        offset=offset,
    )
    return [_with_duration(row._mapping, now, outages) for row in rows], total


def _with_duration(row, now: datetime, outages: OutageSettings) -> CityIncident:
    utility, source = Utility(row["utility"]), IncidentSource(row["source"])
    end = row["ended_at"] or now
    duration = max(end - row["started_at"], timedelta(0))
    return CityIncident(
        **{**row, "utility": utility, "source": source},
        ongoing=row["started_at"] <= now and (row["ended_at"] is None or now < row["ended_at"]),
        duration_hours=round(duration.total_seconds() / 3600, 2),
        allowed_hours=allowed_interruption(utility, source, outages).total_seconds() / 3600,
    )
