"""The demo city's twin: grades that mean something on the first day, and a change in the week.

`seed_demo_twin` runs once, after the demo's billing and money reports:

1. The other companies' buildings publish last quarter's money report (as the demo admin,
   through billing's own verb): one company late, the rest on time. Only the demo company's
   other buildings stay late, as the late-reports page shows.
2. Every building is graded as of two days ago: the state the city was in before step 3.
3. Things go wrong in two buildings of another company (the demo's "real reasons"): in one,
   a request left unanswered past its deadline, an apartment meter with an open leak alert
   and, in the heating season, three flats whose indoor sensors read 15.5 C for the last
   three hours (the `detect-incidents` job itself opens their heating incidents); in the
   other, a reported heating outage since yesterday morning, still going on.
4. Every building is graded as of today: those two change grade this week.

The demo resident's own building is red from the start, for what the demo seeded before:
overdue requests and the one account in eight that left last quarter unpaid. The live
simulator and jobs take over from here (readings close the cold flats as they warm up).
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from billing.building_accounts.reports import publish_reports
from housing import clock
from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.building_money.models import BuildingReport
from housing.building_money.rules import Quarter
from housing.db import session_scope
from housing.incidents.models import IncidentSource, Utility
from housing.incidents.service import open_incident
from housing.registry.models import Apartment, Building, BuildingManagement
from housing.registry.periods import in_force
from housing.registry.seeding import demo_username
from housing.requests import service as requests
from housing.requests.models import RequestCategory
from housing.settings import Settings
from housing.twin import jobs
from housing.twin.city import heating_season
from housing.twin.models import GradeChange
from sensors.jobs import detect_incidents
from sensors.models import Alert, AlertKind, Measurement, Meter, MeterKind, Sensor, SensorKind

BASELINE_DAYS = 2  # the "before" grading, this many days ago
COLD_FLATS = 3
COLD_C = Decimal("15.5")
COLD_HOURS = 3


def seed_demo_twin(engine: Engine, settings: Settings) -> str:
    """Seeds the demo's twin once (see the module); a summary line."""
    today = clock.local_today(settings.timezone)
    now = clock.now()
    with session_scope(engine) as session:
        if session.exec(select(GradeChange.id).limit(1)).first() is not None:
            return "demo grades already there"
        admin = session.exec(select(User).where(User.username == demo_username(Role.admin))).first()
        if admin is None:
            return "no demo admin to publish the demo's reports"
        published = _publish_other_companies(session, Actor.of(admin), today, settings)
        x, z = _troubled_buildings(session, today)
    baseline = jobs.grade_buildings(engine, settings, today=today - timedelta(days=BASELINE_DAYS))
    done = [published, baseline]
    if x is None:
        return "; ".join([*done, "no building of another company to trouble"])
    with session_scope(engine) as session:
        done.append(_trouble(session, admin.id, x, z, now, settings))
    if heating_season(settings, today):
        with session_scope(engine) as session:
            cold = _cold_flats(session, x, now)
        done.append(
            f"{cold} flats of building {x} at {COLD_C} C; " + detect_incidents(engine, settings, now=now)
        )
    done.append(jobs.grade_buildings(engine, settings, today=today))
    return "; ".join(done)


def _publish_other_companies(session: Session, admin: Actor, today, settings: Settings) -> str:
    """Last quarter's reports of the buildings of every company but the demo's (which keeps its
    late ones): the first of them publishes a week late, the others on the tenth day."""
    quarter = Quarter.of(today).previous()
    if quarter < settings.money.first_quarter:
        return "no report due yet"
    demo_company = session.exec(
        select(User.company_id).where(User.username == demo_username(Role.manager))
    ).first()
    reported = select(BuildingReport.building_id).where(
        BuildingReport.year == quarter.year, BuildingReport.quarter == quarter.number
    )
    rows = session.exec(
        select(BuildingManagement.company_id, BuildingManagement.building_id)
        .where(
            in_force(BuildingManagement, quarter.last_day),
            BuildingManagement.company_id != demo_company,
            col(BuildingManagement.building_id).not_in(reported),
        )
        .order_by(BuildingManagement.company_id, BuildingManagement.building_id)
    ).all()
    by_company: dict[int, list[int]] = {}
    for company_id, building_id in rows:
        by_company.setdefault(company_id, []).append(building_id)
    due_on = quarter.due_on(settings.money.report_due_days)
    count = 0
    for n, ids in enumerate(by_company.values()):
        day = min(due_on + timedelta(days=7) if n == 0 else quarter.end + timedelta(days=9), today)
        publish_reports(
            session,
            admin,
            building_ids=ids,
            quarter=quarter,
            today=day,
            now=datetime.combine(day, time(9), UTC),
            settings=settings,
        )
        count += len(ids)
    return f"{count} buildings of {len(by_company)} other companies reported on {quarter} (the first company late)"


def _troubled_buildings(session: Session, today) -> tuple[int | None, int | None]:
    """Two buildings with apartments of a company other than the demo's (the last company's)."""
    demo_company = session.exec(
        select(User.company_id).where(User.username == demo_username(Role.manager))
    ).first()
    with_flats = (
        select(Apartment.building_id).group_by(Apartment.building_id).having(func.count() >= COLD_FLATS)
    )
    ids = session.exec(
        select(BuildingManagement.building_id)
        .where(
            in_force(BuildingManagement, today),
            BuildingManagement.company_id != demo_company,
            col(BuildingManagement.building_id).in_(with_flats),
        )
        .order_by(col(BuildingManagement.company_id).desc(), BuildingManagement.building_id)
        .limit(2)
    ).all()
    return (ids[0] if ids else None), (ids[1] if len(ids) > 1 else None)


def _trouble(
    session: Session, admin_id: int, x: int, z: int | None, now: datetime, settings: Settings
) -> str:
    building = session.get(Building, x)
    flat = session.exec(select(Apartment).where(Apartment.building_id == x).order_by(Apartment.id)).first()
    door = session.exec(select(RequestCategory).where(RequestCategory.code == "entrance_door")).first()
    done = []
    if door is not None:
        requests.file_request(
            session,
            filed_by_id=admin_id,
            requester_person_id=None,
            building_id=x,
            apartment_id=None,
            category_id=door.id,
            description="The entrance door does not lock (phoned in)",
            emergency=None,
            now=now - timedelta(days=2),
            timezone=settings.timezone,
            daily_limit=10,
            emergency_deadline=settings.requests.emergency_deadline,
        )
        done.append(f"a request overdue in building {x} ({building.address})")
    meter = session.exec(
        select(Meter)
        .where(Meter.apartment_id == flat.id, Meter.kind == MeterKind.cold_water)
        .order_by(Meter.id)
    ).first()
    if meter is not None:
        last_night = clock.local_midnight(clock.local_day(now, settings.timezone), settings.timezone)
        session.add(
            Alert(
                meter_id=meter.id,
                kind=AlertKind.leak,
                opened_at=now - timedelta(minutes=30),
                detail=f"water flowed all night on {last_night:%Y-%m-%d}: at least 0.004 {meter.unit}"
                " in every hour from 00:00 to 06:00",
            )
        )
        done.append(f"a leak alert on meter {meter.serial}")
    if z is not None:
        open_incident(
            session,
            building_id=z,
            apartment_id=None,
            utility=Utility.heating,
            source=IncidentSource.report,
            origin=f"user:{admin_id}",
            started_at=clock.local_midnight(clock.local_day(now, settings.timezone), settings.timezone)
            - timedelta(hours=18),
            deviation=None,
            detail="No heating in the whole building: the riser valve failed (reported by residents)",
        )
        done.append(f"a heating outage in building {z} since yesterday morning")
    return ", ".join(done)


def _cold_flats(session: Session, x: int, now: datetime) -> int:
    """Indoor sensors of a few flats read cold every 15 minutes for the last hours."""
    sensors = session.exec(
        select(Sensor.id)
        .where(
            Sensor.building_id == x,
            col(Sensor.apartment_id).is_not(None),
            Sensor.kind == SensorKind.indoor_temperature,
            col(Sensor.removed_on).is_(None),
        )
        .order_by(Sensor.id)
        .limit(COLD_FLATS)
    ).all()
    start = now - timedelta(hours=COLD_HOURS)
    steps = COLD_HOURS * 4
    for sensor_id in sensors:
        taken = {
            row
            for row in session.exec(
                select(Measurement.taken_at).where(
                    Measurement.sensor_id == sensor_id, Measurement.taken_at >= start
                )
            )
        }
        for step in range(steps + 1):
            at = (start + timedelta(minutes=15 * step)).replace(second=0, microsecond=0)
            if at not in taken:
                session.add(Measurement(sensor_id=sensor_id, taken_at=at, value=COLD_C, received_at=at))
    session.flush()
    return len(sensors)
