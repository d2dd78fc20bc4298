"""One building's live state as a viewer may see it: the apartment grid, the common state, the grade.

Read in a fixed number of grouped queries whatever the building's size (about a dozen: the
apartments, the shared facts of `housing.twin.facts`, the last day's temperatures grouped
by kind and hour, the common heat meter, the incidents, the grade), never one per
apartment. Who sees what (docs/digital-twin-view.md):

- full view (staff of the managing company, officials, admins): every mark, every open
  request, debts past due;
- resident view (an owner or registered resident of the building): the common state, the
  grade and the grid with technical marks only (alerts, cold flats, silent meters); no
  debt, and of the open requests only those about the common parts, never a neighbour's.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, cast, func
from sqlmodel import Session, col, select

from housing import clock
from housing.actors import Actor
from housing.db import is_postgres
from housing.incidents.allowances import interruption
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.registry.models import Apartment, Building
from housing.registry.queries import home_apartment_ids
from housing.requests.models import RequestCategory, RequestStatus
from housing.settings import Settings
from housing.twin import facts
from housing.twin.chart import Hour, LineChart, line_chart
from housing.twin.grading import COMPONENTS, Component, Grade
from housing.twin.models import BuildingGrade
from sensors.models import AlertKind, Measurement, Meter, MeterKind, Reading, Sensor, SensorKind
from sensors.usage.series import meter_consumption

# The marks of a cell, in the order pages show them.
LEAK = "leak"  # an open leak alert on one of its meters
BACKWARDS = "backwards"  # an open backwards-reading alert
COLD = "cold"  # a cold flat: an open heating incident of its indoor sensor
SILENT = "silent"  # a silent meter: an open stale alert
REQUEST = "request"  # an open request (full view only)
DEBT = "debt"  # a debt past due (full view only)
MARKS = (LEAK, BACKWARDS, COLD, SILENT, REQUEST, DEBT)
TECHNICAL = (LEAK, BACKWARDS, COLD, SILENT)
ALERT_MARKS = {AlertKind.leak: LEAK, AlertKind.backwards: BACKWARDS, AlertKind.stale: SILENT}
CHART_HOURS = 24


@dataclass(frozen=True, slots=True)
class Viewer:
    """What one actor may see of one building: everything, or a resident's common view."""

    full: bool
    homes: frozenset[int] = frozenset()  # the resident's own apartments here, highlighted

    @property
    def audience(self) -> str:
        """The live fragment is rendered once per audience (and language), not per viewer."""
        return "full" if self.full else "resident"


def viewer_of(session: Session, actor: Actor, building_id: int, today: date) -> Viewer:
    """The actor's view of a building they may see (the caller checked that they may)."""
    if actor.sees_whole_city or actor.is_company_staff:
        return Viewer(full=True)
    homes = home_apartment_ids(actor.person_id, today).subquery()
    mine = select(Apartment.id).where(
        Apartment.building_id == building_id, col(Apartment.id).in_(select(homes.c.apartment_id))
    )
    return Viewer(full=False, homes=frozenset(session.exec(mine)))


@dataclass(frozen=True, slots=True)
class Cell:
    apartment_id: int
    number: str
    marks: tuple[str, ...]
    home: bool = False


@dataclass(frozen=True, slots=True)
class FloorRow:
    floor: int
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class Entrance:
    entrance: int
    floors: tuple[FloorRow, ...]  # top floor first


@dataclass(frozen=True, slots=True)
class Grid:
    entrances: tuple[Entrance, ...]
    unplaced: tuple[Cell, ...]  # apartments without an entrance or a floor, in a row of their own
    counts: dict[str, int]  # mark -> apartments bearing it
    apartments: int

    def cells(self) -> Iterable[Cell]:
        for entrance in self.entrances:
            for row in entrance.floors:
                yield from row.cells
        yield from self.unplaced


@dataclass(frozen=True, slots=True)
class Temperatures:
    kind: SensorKind
    sensors: int  # sensors of this kind that measured in the last 24 hours
    latest: Hour | None
    norm: Decimal
    chart: LineChart

    @property
    def hours(self) -> tuple[Hour, ...]:
        return tuple(point.hour for point in self.chart.points)


@dataclass(frozen=True, slots=True)
class HeatMeter:
    meter_id: int
    serial: str
    unit: str
    value: Decimal | None
    read_at: datetime | None
    today: Decimal | None  # consumption since local midnight; None: too few readings
    this_month: Decimal | None


@dataclass(frozen=True, slots=True)
class Interruption:
    id: int
    utility: Utility
    source: IncidentSource
    started_at: datetime
    ended_at: datetime | None
    detail: str
    ongoing: bool
    duration_hours: float
    allowed_hours: float
    over_allowance: bool


@dataclass(frozen=True, slots=True)
class OpenRequest:
    id: int
    category: str
    apartment: str | None  # its number; None: the common parts
    status: RequestStatus
    emergency: bool
    deadline_at: datetime
    overdue: bool


@dataclass(frozen=True, slots=True)
class CommonAlert:
    serial: str
    kind: AlertKind
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class GradeView:
    grade: Grade
    graded_on: date
    graded_at: datetime
    since: date
    components: tuple[Component, ...]


@dataclass(frozen=True, slots=True)
class BuildingState:
    building_id: int
    address: str
    floors: int
    read_at: datetime
    full: bool
    grid: Grid
    hot_water: Temperatures
    indoor: Temperatures
    heat_meters: tuple[HeatMeter, ...]
    interruptions: tuple[Interruption, ...]
    requests: tuple[OpenRequest, ...]
    common_alerts: tuple[CommonAlert, ...]
    cold_flats: int
    grade: GradeView | None
    debts_minor: int | None = None  # full view: what the apartments past due owe in all
    homes: frozenset[int] = field(default_factory=frozenset)


def building_state(
    session: Session, building: Building, viewer: Viewer, settings: Settings, now: datetime | None = None
) -> BuildingState:
    """The building as `viewer` may see it at `now` (the clock's by default)."""
    now = now or clock.now()
    today = clock.local_day(now, settings.timezone)
    ids = [building.id]
    alerts = facts.open_alerts(session, ids)
    cold = facts.cold_flats(session, ids)
    requests = facts.open_requests(session, ids)
    debts = facts.debts_past_due(session, today, ids) if viewer.full else {}
    apartments = session.execute(
        select(Apartment.id, Apartment.number, Apartment.entrance, Apartment.floor).where(
            Apartment.building_id == building.id
        )
    ).all()
    marks: dict[int, set[str]] = defaultdict(set)
    for alert in alerts:
        mark = ALERT_MARKS.get(AlertKind(alert.kind))
        if mark and alert.apartment_id is not None:
            marks[alert.apartment_id].add(mark)
    for flat in cold:
        marks[flat.apartment_id].add(COLD)
    if viewer.full:
        for request in requests:
            if request.apartment_id is not None:
                marks[request.apartment_id].add(REQUEST)
        for apartment_id in debts:
            marks[apartment_id].add(DEBT)
    else:
        requests = [r for r in requests if r.apartment_id is None]
    numbers = {row.id: row.number for row in apartments}
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=CHART_HOURS - 1)
    hours = _hourly_temperatures(session, building.id, start)
    meters = settings.meters
    return BuildingState(
        building_id=building.id,
        address=building.address,
        floors=building.floors,
        read_at=now,
        full=viewer.full,
        grid=_grid(apartments, marks, viewer.homes),
        hot_water=_temperatures(
            SensorKind.hot_water_temperature,
            hours,
            Decimal(str(meters.hot_water_min_c)),
            start,
            settings.timezone,
        ),
        indoor=_temperatures(
            SensorKind.indoor_temperature, hours, Decimal(str(meters.indoor_min_c)), start, settings.timezone
        ),
        heat_meters=_heat_meters(session, building.id, now, settings),
        interruptions=_interruptions(session, building.id, now, settings),
        requests=_requests(session, requests, numbers, now),
        common_alerts=tuple(
            CommonAlert(a.serial, AlertKind(a.kind), a.opened_at) for a in alerts if a.apartment_id is None
        ),
        cold_flats=len(cold),
        grade=_grade(session.get(BuildingGrade, building.id)),
        debts_minor=sum(debts.values()) if viewer.full else None,
        homes=viewer.homes,
    )


def _sort_number(number: str) -> tuple[int, str]:
    return (len(number), number)


def _grid(apartments, marks: dict[int, set[str]], homes: frozenset[int]) -> Grid:
    placed: dict[int, dict[int, list[Cell]]] = defaultdict(lambda: defaultdict(list))
    unplaced: list[Cell] = []
    counts = dict.fromkeys(MARKS, 0)
    for row in sorted(apartments, key=lambda r: _sort_number(r.number)):
        own = marks.get(row.id, set())
        cell = Cell(row.id, row.number, tuple(m for m in MARKS if m in own), row.id in homes)
        for mark in cell.marks:
            counts[mark] += 1
        if row.entrance is None or row.floor is None:
            unplaced.append(cell)
        else:
            placed[row.entrance][row.floor].append(cell)
    entrances = tuple(
        Entrance(
            entrance,
            tuple(FloorRow(floor, tuple(cells)) for floor, cells in sorted(floors.items(), reverse=True)),
        )
        for entrance, floors in sorted(placed.items())
    )
    return Grid(entrances, tuple(unplaced), counts, len(apartments))


def _hour_bucket(session: Session, column):
    """The hour a timestamp falls in, as whole hours since the epoch (grouped in the database)."""
    if is_postgres(session):
        return func.floor(func.extract("epoch", column) / 3600)
    return cast(func.strftime("%s", column), Integer) // 3600


def _hourly_temperatures(session: Session, building_id: int, start: datetime) -> dict[SensorKind, list[Hour]]:
    """Each sensor kind's hours since `start`: mean, coldest, warmest, and how many sensors."""
    bucket = _hour_bucket(session, Measurement.taken_at).label("bucket")
    query = (
        select(
            Sensor.kind,
            bucket,
            func.avg(Measurement.value),
            func.min(Measurement.value),
            func.max(Measurement.value),
            func.count(func.distinct(Measurement.sensor_id)),
        )
        .join(Sensor, Sensor.id == Measurement.sensor_id)
        .where(Sensor.building_id == building_id, Measurement.taken_at >= start)
        .group_by(Sensor.kind, bucket)
    )
    hours: dict[SensorKind, list[Hour]] = defaultdict(list)
    for kind, hour, mean, low, high, count in session.execute(query):
        started = datetime.fromtimestamp(int(hour) * 3600, tz=start.tzinfo)
        mean = Decimal(str(mean)).quantize(Decimal("0.1"))
        hours[SensorKind(kind)].append(Hour(started, mean, Decimal(str(low)), Decimal(str(high)), count))
    return hours


def _temperatures(
    kind: SensorKind, hours: dict[SensorKind, list[Hour]], norm: Decimal, start: datetime, timezone: str
) -> Temperatures:
    own = sorted(hours.get(kind, []), key=lambda h: h.start)
    chart = line_chart(own, start, start + timedelta(hours=CHART_HOURS), norm, timezone)
    return Temperatures(kind, max((h.count for h in own), default=0), own[-1] if own else None, norm, chart)


def _heat_meters(
    session: Session, building_id: int, now: datetime, settings: Settings
) -> tuple[HeatMeter, ...]:
    """The building's common heat meters with their last reading and what they counted today and this month."""
    meters = list(
        session.exec(
            select(Meter)
            .where(
                Meter.building_id == building_id,
                Meter.kind == MeterKind.heat,
                col(Meter.apartment_id).is_(None),
                col(Meter.removed_on).is_(None),
            )
            .order_by(Meter.id)
        )
    )
    if not meters:
        return ()
    latest = (
        select(Reading.meter_id, func.max(Reading.taken_at).label("taken_at"))
        .where(col(Reading.meter_id).in_([m.id for m in meters]), Reading.taken_at <= now)
        .group_by(Reading.meter_id)
        .subquery()
    )
    last = {
        meter_id: (value, taken_at)
        for meter_id, value, taken_at in session.execute(
            select(Reading.meter_id, Reading.value, Reading.taken_at).join(
                latest, (latest.c.meter_id == Reading.meter_id) & (latest.c.taken_at == Reading.taken_at)
            )
        )
    }
    zone = settings.timezone
    today = clock.local_day(now, zone)
    midnight = clock.local_midnight(today, zone)
    month = clock.month(today, zone).starts
    rule = {"timezone": zone, "tolerance": settings.meters.boundary_tolerance}
    found = []
    for meter in meters:  # a building has one heat meter, rarely two: not a query per apartment
        value, read_at = last.get(meter.id, (None, None))
        used_today = used_month = None
        if read_at is not None:
            used_today = meter_consumption(session, meter.id, midnight, now, **rule).quantity
            used_month = meter_consumption(session, meter.id, month, now, **rule).quantity
        found.append(HeatMeter(meter.id, meter.serial, meter.unit, value, read_at, used_today, used_month))
    return tuple(found)


def _interruptions(
    session: Session, building_id: int, now: datetime, settings: Settings
) -> tuple[Interruption, ...]:
    """The building's incidents not over yet (planned outages ahead included), oldest first.

    Cold flats are incidents of one apartment each: the grid marks them instead."""
    query = (
        select(ServiceIncident)
        .where(
            ServiceIncident.building_id == building_id,
            col(ServiceIncident.apartment_id).is_(None),
            (col(ServiceIncident.ended_at).is_(None)) | (col(ServiceIncident.ended_at) > now),
        )
        .order_by(ServiceIncident.started_at, ServiceIncident.id)
    )
    found = []
    for incident in session.exec(query):
        measured = interruption(
            incident.utility, incident.source, incident.started_at, incident.ended_at, now, settings.outages
        )
        found.append(
            Interruption(
                id=incident.id,
                utility=Utility(incident.utility),
                source=IncidentSource(incident.source),
                started_at=incident.started_at,
                ended_at=incident.ended_at,
                detail=incident.detail,
                ongoing=measured.ongoing,
                duration_hours=measured.duration_hours,
                allowed_hours=measured.allowed_hours,
                over_allowance=measured.over_allowance,
            )
        )
    return tuple(found)


def _requests(session: Session, requests, numbers: dict[int, str], now: datetime) -> tuple[OpenRequest, ...]:
    category_ids = {r.category_id for r in requests}
    names = (
        dict(
            session.execute(
                select(RequestCategory.id, RequestCategory.name).where(
                    col(RequestCategory.id).in_(category_ids)
                )
            ).all()
        )
        if category_ids
        else {}
    )
    return tuple(
        OpenRequest(
            id=r.id,
            category=names.get(r.category_id, ""),
            apartment=numbers.get(r.apartment_id) if r.apartment_id is not None else None,
            status=RequestStatus(r.status),
            emergency=r.emergency,
            deadline_at=r.deadline_at,
            overdue=r.deadline_at < now,
        )
        for r in requests
    )


def _grade(row: BuildingGrade | None) -> GradeView | None:
    if row is None:
        return None
    components = {c["name"]: Component.from_json(c) for c in row.components or []}
    ordered = [components.pop(name) for name in COMPONENTS if name in components] + list(components.values())
    return GradeView(Grade(row.grade), row.graded_on, row.graded_at, row.since, tuple(ordered))
