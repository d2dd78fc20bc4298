"""One building's live state as a viewer may see it: the apartment grid, the common state, the grade.

Read in a fixed number of grouped queries whatever the building's size (about a dozen: the
apartments, the shared facts of `housing.twin.facts`, the last day's temperatures grouped
by kind and hour, the common heat meter, the incidents, the grade), never one per
apartment. Who sees what (docs/digital-twin.md):

- full view (staff of the managing company, officials, admins): every mark, every open
  request, debts past due;
- resident view (an owner or registered resident of the building): the common state, the
  grade and the grid with technical marks only (alerts, cold flats, silent meters); no
  debt, and of the open requests only those about the common parts, never a neighbour's.
"""

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Integer, cast, func
from sqlmodel import Session, col, select

from housing import clock
from housing.actors import Actor
from housing.db import is_postgres
from housing.incidents.models import ServiceIncident
from housing.incidents.schemas import IncidentDuration
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
    sensors: int  # sensors of this kind in the building (in service)
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
    interruptions: tuple[IncidentDuration, ...]
    requests: tuple[OpenRequest, ...]
    common_alerts: tuple[CommonAlert, ...]
    cold_flats: int
    grade: GradeView | None
    debts_minor: int | None = None  # full view: what the apartments past due owe in all
    homes: frozenset[int] = field(default_factory=frozenset)


def building_state(
    session: Session,
    building: Building,
    viewer: Viewer,
    settings: Settings,
    now: datetime | None = None,
    cache: "HourlyCache | None" = None,
) -> BuildingState:
    """The building as `viewer` may see it at `now` (the clock's by default); `cache` keeps
    the completed hours of the temperature charts between views (one per web process)."""
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
    hours = _hourly_temperatures(session, building.id, start, now, cache)
    sensors = {
        SensorKind(kind): count
        for kind, count in session.execute(
            select(Sensor.kind, func.count())
            .where(Sensor.building_id == building.id, col(Sensor.removed_on).is_(None))
            .group_by(Sensor.kind)
        )
    }
    norms = {
        SensorKind.hot_water_temperature: settings.meters.hot_water_min_c,
        SensorKind.indoor_temperature: settings.meters.indoor_min_c,
    }
    charts = {
        kind: _temperatures(
            kind, hours.get(kind, []), sensors.get(kind, 0), Decimal(str(norm)), start, settings.timezone
        )
        for kind, norm in norms.items()
    }
    return BuildingState(
        building_id=building.id,
        address=building.address,
        floors=building.floors,
        read_at=now,
        full=viewer.full,
        grid=_grid(apartments, marks, viewer.homes),
        hot_water=charts[SensorKind.hot_water_temperature],
        indoor=charts[SensorKind.indoor_temperature],
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
    """The UTC hour a timestamp falls in, grouped in the database (a timestamp on PostgreSQL,
    whole hours since the epoch on SQLite)."""
    if is_postgres(session):
        return func.date_trunc("hour", func.timezone("UTC", column))
    return cast(func.strftime("%s", column), Integer) // 3600


def _utc_hour(value) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromtimestamp(int(value) * 3600, tz=UTC)


class HourlyCache:
    """Completed hours of each building's temperatures, kept a few minutes per web process.

    A day of 500 indoor sensors every 15 minutes is 48,000 measurements; the 23 completed
    hours of the chart hardly change, so they are aggregated once per `ttl` and only the
    running hour is read on each view. A measurement a device delivers late into a completed
    hour shows after at most `ttl`.
    """

    def __init__(self, ttl: timedelta = timedelta(minutes=5), size: int = 5000) -> None:
        self.ttl = ttl
        self.size = size
        self._kept: dict[tuple[int, datetime], tuple[datetime, dict[SensorKind, list[Hour]]]] = {}
        self._lock = threading.Lock()

    def get(self, building_id: int, start: datetime, now: datetime):
        with self._lock:
            found = self._kept.get((building_id, start))
        return found[1] if found is not None and now - found[0] < self.ttl else None

    def put(self, building_id: int, start: datetime, now: datetime, hours) -> None:
        with self._lock:  # request threads and the live hub's thread share it
            if len(self._kept) >= self.size:  # the oldest tenth out
                for key in sorted(self._kept, key=lambda k: self._kept[k][0])[: self.size // 10 or 1]:
                    del self._kept[key]
            self._kept[(building_id, start)] = (now, hours)


def _hourly_temperatures(
    session: Session, building_id: int, start: datetime, now: datetime, cache: HourlyCache | None = None
) -> dict[SensorKind, list[Hour]]:
    """Each sensor kind's hours from `start` to `now`: mean, coldest, warmest, how many measurements.

    Aggregated in the database; completed hours come from `cache` when it has them fresh."""
    running = now.replace(minute=0, second=0, microsecond=0)
    done = cache.get(building_id, start, now) if cache is not None else None
    since = start if done is None else running
    found = _aggregate_hours(session, building_id, since)
    if done is None:
        done = {kind: [h for h in hours if h.start < running] for kind, hours in found.items()}
        if cache is not None:
            cache.put(building_id, start, now, done)
    kinds = set(done) | set(found)
    return {
        kind: [h for h in done.get(kind, []) if h.start < running]
        + [h for h in found.get(kind, []) if h.start >= running]
        for kind in kinds
    }


def _aggregate_hours(session: Session, building_id: int, since: datetime) -> dict[SensorKind, list[Hour]]:
    bucket = _hour_bucket(session, Measurement.taken_at).label("bucket")
    query = (
        select(
            Sensor.kind,
            bucket,
            func.avg(Measurement.value),
            func.min(Measurement.value),
            func.max(Measurement.value),
            func.count(),
        )
        .join(Sensor, Sensor.id == Measurement.sensor_id)
        .where(Sensor.building_id == building_id, Measurement.taken_at >= since)
        .group_by(Sensor.kind, bucket)
    )
    hours: dict[SensorKind, list[Hour]] = defaultdict(list)
    for kind, hour, mean, low, high, count in session.execute(query):
        mean = Decimal(str(mean)).quantize(Decimal("0.1"))
        hours[SensorKind(kind)].append(
            Hour(_utc_hour(hour), mean, Decimal(str(low)), Decimal(str(high)), count)
        )
    return hours


def _temperatures(
    kind: SensorKind, hours: list[Hour], sensors: int, norm: Decimal, start: datetime, timezone: str
) -> Temperatures:
    own = sorted(hours, key=lambda h: h.start)
    chart = line_chart(own, start, start + timedelta(hours=CHART_HOURS), norm, timezone)
    return Temperatures(kind, sensors, own[-1] if own else None, norm, chart)


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
) -> tuple[IncidentDuration, ...]:
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
    return tuple(IncidentDuration.of(incident, now, settings.outages) for incident in session.exec(query))


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
