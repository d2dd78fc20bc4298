"""What officials read of the twin: buildings counted by grade and district, the week's changes
of grade, and the buildings with cold flats now. A few grouped queries whatever the city's size.

"Company" is the company managing the building today (housing.registry.queries); a building
nobody manages today is counted under its district only when no company is asked for.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import Session, col

from housing.registry.models import Building, District, ManagementCompany
from housing.registry.queries import current_manager_ids, managed_building_ids
from housing.settings import Settings
from housing.twin import facts
from housing.twin.grading import Grade
from housing.twin.models import BuildingGrade, GradeChange
from sensors.meters.conditions import in_season, parse_season

WEEK = 7  # days of grade changes officials see


@dataclass
class GradeCounts:
    district_id: int | None  # None: the whole city
    district: str
    green: int = 0
    yellow: int = 0
    red: int = 0
    ungraded: int = 0  # buildings the nightly job has not graded yet

    @property
    def total(self) -> int:
        return self.green + self.yellow + self.red + self.ungraded

    def add(self, grade: str | None, count: int) -> None:
        name = Grade(grade).value if grade else "ungraded"
        setattr(self, name, getattr(self, name) + count)


@dataclass
class CityGrades:
    districts: list[GradeCounts]
    city: GradeCounts = field(default_factory=lambda: GradeCounts(None, ""))
    graded_on: date | None = None  # the newest grading day


def grade_counts(session: Session, today: date, *, company_id: int | None = None) -> CityGrades:
    """Buildings by grade in each district (by name) and in the whole city."""
    query = (
        select(District.id, District.name, BuildingGrade.grade, func.count(Building.id))
        .select_from(Building)
        .join(District, District.id == Building.district_id)
        .outerjoin(BuildingGrade, BuildingGrade.building_id == Building.id)
        .group_by(District.id, District.name, BuildingGrade.grade)
        .order_by(District.name, District.id)
    )
    if company_id is not None:
        query = query.where(col(Building.id).in_(managed_building_ids(company_id, today)))
    found = CityGrades(districts=[])
    by_district: dict[int, GradeCounts] = {}
    for district_id, name, grade, count in session.execute(query):
        if district_id not in by_district:
            by_district[district_id] = GradeCounts(district_id, name)
            found.districts.append(by_district[district_id])
        by_district[district_id].add(grade, count)
        found.city.add(grade, count)
    found.graded_on = session.execute(select(func.max(BuildingGrade.graded_on))).scalar_one_or_none()
    return found


@dataclass(frozen=True)
class ChangeRow:
    building_id: int
    address: str
    district: str
    company: str | None  # managing it today
    changed_on: date
    previous: Grade | None  # None: its first grade (not listed)
    grade: Grade


def grade_changes(
    session: Session,
    today: date,
    *,
    days: int = WEEK,
    company_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[ChangeRow], int]:
    """Changes of grade on the last `days` days through `today`, newest first: a page of them
    (all without `limit`) and how many. A building's first grade is no change (the first night
    the job runs grades every building) and is left out."""
    managers = current_manager_ids(today).subquery("manager")
    query = (
        select(
            GradeChange.building_id,
            Building.address,
            District.name,
            ManagementCompany.name,
            GradeChange.changed_on,
            GradeChange.previous,
            GradeChange.grade,
        )
        .join(Building, Building.id == GradeChange.building_id)
        .join(District, District.id == Building.district_id)
        .outerjoin(managers, managers.c.building_id == Building.id)
        .outerjoin(ManagementCompany, ManagementCompany.id == managers.c.company_id)
        .where(
            GradeChange.changed_on > today - timedelta(days=days),
            GradeChange.changed_on <= today,
            col(GradeChange.previous).is_not(None),
        )
    )
    if company_id is not None:
        query = query.where(managers.c.company_id == company_id)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    query = query.order_by(
        col(GradeChange.changed_on).desc(), Building.address, col(GradeChange.id).desc()
    ).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = [
        ChangeRow(b, address, district, company, on, Grade(previous) if previous else None, Grade(grade))
        for b, address, district, company, on, previous, grade in session.execute(query)
    ]
    return rows, total


@dataclass(frozen=True)
class ColdBuilding:
    building_id: int
    address: str
    district: str
    company: str | None
    flats: int  # apartments cold now
    since: datetime  # the longest-cold flat's first measurement below the norm
    hours: float  # how long that is, up to now
    deepest: Decimal | None  # the worst shortfall below the norm, degrees C


def heating_season(settings: Settings, day: date) -> bool:
    """Whether `day` is in the heating season (HOUSING_METERS__HEATING_SEASON)."""
    return in_season(day, parse_season(settings.meters.heating_season))


def cold_now(
    session: Session, now: datetime, today: date, *, company_id: int | None = None
) -> list[ColdBuilding]:
    """Buildings with flats cold now (`facts.cold_flats`), the most cold flats first, then the longest cold."""
    ids = None if company_id is None else list(session.exec(managed_building_ids(company_id, today)))
    grouped = facts.by_building(facts.cold_flats(session, ids))
    if not grouped:
        return []
    managers = current_manager_ids(today).subquery("manager")
    names = {
        row[0]: row[1:]
        for row in session.execute(
            select(Building.id, Building.address, District.name, ManagementCompany.name)
            .join(District, District.id == Building.district_id)
            .outerjoin(managers, managers.c.building_id == Building.id)
            .outerjoin(ManagementCompany, ManagementCompany.id == managers.c.company_id)
            .where(col(Building.id).in_(list(grouped)))
        )
    }
    found = []
    for building_id, flats in grouped.items():
        address, district, company = names[building_id]
        since = min(flat.since for flat in flats)
        deviations = [flat.deviation for flat in flats if flat.deviation is not None]
        found.append(
            ColdBuilding(
                building_id,
                address,
                district,
                company,
                len(flats),
                since,
                round(max((now - since).total_seconds(), 0) / 3600, 1),
                max(deviations) if deviations else None,
            )
        )
    return sorted(found, key=lambda b: (-b.flats, b.since, b.building_id))
