"""Scheduled work of the sensors package: find what is due, hand each batch to a function.

Each job is `job(engine, settings) -> str` for the table in `housing/scheduler.py`; `now`
(or `today`) may be given to run one by hand or under a frozen clock. Meters and sensors
are processed in batches of `BATCH` by id, one transaction per batch. A batch that fails
is rolled back and done again one item at a time, so a failing meter, sensor or
partition is logged with its id and skipped, the others are done, and the summary counts
the failures; a second run finds nothing left to do.
"""

import logging
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from housing import clock
from housing.batches import each_batch, failures
from housing.catchup import service as catchup
from housing.db import is_postgres
from housing.incidents import notices as incident_notices
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.incidents.service import close_incident, open_incident
from housing.settings import Settings
from sensors.ingest.partitions import create_partition, missing_months, partition_name
from sensors.meters import alerts, conditions
from sensors.meters import notices as meter_notices
from sensors.meters.service import effective_readings
from sensors.models import Alert, AlertKind, Measurement, Meter, MeterKind, Reading, Sensor, SensorKind
from sensors.usage.points import EffectivePoint

log = logging.getLogger(__name__)

BATCH = 500
CREATE_PARTITIONS = "create-partitions"  # the job's name in the scheduler's table and job_progress
# How far back a reading is checked for going backwards: a little over the job's interval,
# so that readings are seen by more than one run. Readings a device delivers later than
# this after taking them are not checked (consumption still excludes them).
BACKWARDS_SCAN = timedelta(days=1)
# Measurements looked at for each sensor; a run after a longer outage starts from here.
INCIDENT_LOOKBACK = timedelta(hours=6)
NIGHT_MARGIN = timedelta(hours=2)  # readings around the night that interpolate its hours
WATER = (MeterKind.cold_water.value, MeterKind.hot_water.value)

Decision = dict[tuple[int, AlertKind], str | None]  # detail: open it; None: close it


# Partitions


def create_partitions(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Creates the monthly `reading` partitions for this month and `partitions_ahead` more.

    Every missing one, so a run after any outage catches up; the day is recorded in
    `job_progress` (also on SQLite, where there is nothing to create) for the health check.
    """
    today = today or clock.local_today(settings.timezone)
    with engine.begin() as connection:
        months = missing_months(connection, today, settings.meters.partitions_ahead)
    created, failed = [], []
    for month in months:  # one transaction each: a month that fails leaves the others created
        try:
            with engine.begin() as connection:
                created.append(create_partition(connection, month))
        except Exception:
            log.exception("creating partition %s failed", partition_name(month))
            failed.append(partition_name(month))
    if not failed:  # the health check sees a day with a failed month as not done
        with engine.begin() as connection, Session(bind=connection) as session:
            catchup.mark_done(session, CREATE_PARTITIONS, today)
    if not is_postgres(engine):
        return "nothing to do: readings are partitioned on PostgreSQL only"
    if not created and not failed:
        return f"all partitions exist through {settings.meters.partitions_ahead} months ahead"
    summary = f"created {len(created)} partitions: {', '.join(created) or 'none'}"
    return summary + (f"; {len(failed)} failed: {', '.join(failed)}" if failed else "")


# Alerts


def detect_alerts(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    """Opens alerts whose condition holds, closes those whose condition cleared.

    At most one open alert per meter and kind (the unique index uq_alert_open), so a
    condition that persists keeps its one alert however often this runs.
    """
    now = now or clock.now()
    today = clock.local_day(now, settings.timezone)
    night = alerts.last_night(now, settings.timezone)
    opened: Counter[str] = Counter()
    closed: Counter[str] = Counter()

    def batch(session: Session, ids: list[int]) -> None:
        meters = list(session.exec(select(Meter).where(col(Meter.id).in_(ids)).order_by(Meter.id)))
        decisions = _alert_decisions(session, meters, now, today, night, settings)
        _apply_alerts(session, decisions, now, opened, closed)

    def due(session: Session, after: int) -> list[int]:
        query = select(Meter.id).where(_alert_meters(today), Meter.id > after)
        return list(session.exec(query.order_by(Meter.id).limit(BATCH)))

    checked, failed = each_batch(engine, due, batch, [opened, closed], "meter")
    return f"checked {checked} meters: opened {_tally(opened)}; closed {_tally(closed)}{failures(failed, 'meter')}"


def _active(model, today: date):
    return (model.installed_on <= today) & or_(col(model.removed_on).is_(None), model.removed_on > today)


def _alert_meters(today: date):
    """Meters in service, and any meter that still has an open alert (to close it)."""
    with_open = select(Alert.meter_id).where(col(Alert.closed_at).is_(None))
    return or_(_active(Meter, today), col(Meter.id).in_(with_open))


def _alert_decisions(
    session: Session, meters: list[Meter], now: datetime, today: date, night: alerts.Night, settings: Settings
) -> Decision:
    zone = ZoneInfo(settings.timezone)
    stale_after = timedelta(hours=settings.meters.stale_after_hours)
    ids = [m.id for m in meters]
    last = _last_readings(session, ids)
    water = [m.id for m in meters if m.smart and m.kind in WATER]
    flows = _night_flows(session, water, night)
    decisions: Decision = {}
    for meter in meters:
        active = meter.installed_on <= today and (meter.removed_on is None or meter.removed_on > today)
        due = active and alerts.verification_due(
            meter.verification_due, today, settings.meters.verification_warning_days
        )
        decisions[meter.id, AlertKind.verification_due] = _verification_detail(meter, today) if due else None
        installed_at = datetime.combine(meter.installed_on, time(), zone)
        is_stale = active and meter.smart and alerts.stale(last.get(meter.id), installed_at, now, stale_after)
        decisions[meter.id, AlertKind.stale] = _stale_detail(meter, last.get(meter.id)) if is_stale else None
        flow = flows.get(meter.id)
        if not active or flow is None or flow.leak is False:
            decisions[meter.id, AlertKind.leak] = None
        elif flow.leak:
            decisions[meter.id, AlertKind.leak] = (
                f"water flowed all night on {night.day}: at least {flow.least} {meter.unit} "
                f"in every hour from {night.start:%H:%M} to {night.end:%H:%M}"
            )
    decisions.update(_backwards(session, ids, now))
    return decisions


def _last_readings(session: Session, ids: list[int]) -> dict[int, datetime]:
    """meter id -> its latest reading's time; one index probe per meter on PostgreSQL."""
    latest = (
        select(func.max(Reading.taken_at))
        .where(Reading.meter_id == Meter.id)
        .correlate(Meter)
        .scalar_subquery()
        .label("latest")
    )
    rows = session.exec(select(Meter.id, latest).where(col(Meter.id).in_(ids)))
    return {meter_id: taken_at for meter_id, taken_at in rows if taken_at is not None}


def _night_flows(session: Session, ids: list[int], night: alerts.Night) -> dict[int, alerts.NightFlow]:
    """Whether each water meter flowed all night; from the readings as read (corrections are rare)."""
    if not ids:
        return {}
    points: dict[int, list[EffectivePoint]] = {meter_id: [] for meter_id in ids}
    rows = session.exec(
        select(Reading.meter_id, Reading.taken_at, Reading.value, Reading.source)
        .where(
            col(Reading.meter_id).in_(ids),
            Reading.taken_at >= night.start - NIGHT_MARGIN,
            Reading.taken_at <= night.end + NIGHT_MARGIN,
        )
        .order_by(Reading.meter_id, Reading.taken_at)
    )
    for meter_id, taken_at, value, source in rows:
        points[meter_id].append(EffectivePoint(taken_at, value, str(source), False, None))
    return {meter_id: alerts.night_flow(series, night) for meter_id, series in points.items()}


def _backwards(session: Session, ids: list[int], now: datetime) -> Decision:
    """Backwards alerts of the meters with a recent reading lower than the one before, or an open alert."""
    since = now - BACKWARDS_SCAN
    window = (
        select(
            Reading.meter_id,
            Reading.taken_at,
            Reading.value,
            func.lag(Reading.value)
            .over(partition_by=Reading.meter_id, order_by=Reading.taken_at)
            .label("prev"),
        )
        .where(col(Reading.meter_id).in_(ids), Reading.taken_at >= since)
        .subquery()
    )
    earlier = aliased(Reading)
    before_window = (
        select(earlier.value)
        .where(earlier.meter_id == window.c.meter_id, earlier.taken_at < window.c.taken_at)
        .order_by(earlier.taken_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    suspects = set(
        session.exec(
            select(window.c.meter_id)
            .where(window.c.value < func.coalesce(window.c.prev, before_window))
            .distinct()
        )
    )
    open_since = dict(
        session.exec(
            select(Alert.meter_id, Alert.opened_at).where(
                col(Alert.meter_id).in_(ids),
                Alert.kind == AlertKind.backwards,
                col(Alert.closed_at).is_(None),
            )
        ).all()
    )
    decisions: Decision = {}
    for meter_id in sorted(suspects | open_since.keys()):
        start = min(since, open_since.get(meter_id, since) - BACKWARDS_SCAN)
        pending = alerts.unreviewed_backwards(effective_readings(session, meter_id, start=start))
        detail = None
        if pending:
            first = pending[0]
            detail = (
                f"{len(pending)} reading(s) lower than the one before, the first taken at "
                f"{first.taken_at:%Y-%m-%d %H:%M} UTC ({first.value}); review each as rollover, "
                "replacement or error"
            )
        decisions[meter_id, AlertKind.backwards] = detail
    return decisions


def _verification_detail(meter: Meter, today: date) -> str:
    due = meter.verification_due
    if due < today:
        return f"verification overdue since {due}"
    return f"verification due on {due}, in {(due - today).days} days"


def _stale_detail(meter: Meter, last: datetime | None) -> str:
    if last is None:
        return f"no reading since installation on {meter.installed_on}"
    return f"no reading since {last:%Y-%m-%d %H:%M} UTC"


def _apply_alerts(
    session: Session, decisions: Decision, now: datetime, opened: Counter[str], closed: Counter[str]
) -> None:
    meter_ids = {meter_id for meter_id, _kind in decisions}
    current = {
        (a.meter_id, AlertKind(a.kind)): a
        for a in session.exec(
            select(Alert).where(col(Alert.meter_id).in_(meter_ids), col(Alert.closed_at).is_(None))
        )
    }
    for (meter_id, kind), detail in decisions.items():
        alert = current.get((meter_id, kind))
        if detail is None and alert is not None:
            alert.closed_at = now
            session.add(alert)
            closed[kind.value] += 1
        elif detail is not None and alert is None:
            alert_id = _open_alert(session, meter_id, kind, detail, now)
            if alert_id is not None:
                opened[kind.value] += 1
                meter = session.get(Meter, meter_id)
                meter_notices.alert_opened(
                    session, alert_id=alert_id, meter=meter, kind=kind, detail=detail, now=now
                )
    session.flush()


def _open_alert(session: Session, meter_id: int, kind: AlertKind, detail: str, now: datetime) -> int | None:
    """Inserts an open alert unless one is open already (also when another writer just added it); its id."""
    values = {"meter_id": meter_id, "kind": kind.value, "opened_at": now, "detail": detail[:500]}
    statement = (postgresql.insert if is_postgres(session) else sqlite.insert)(Alert).values(**values)
    statement = statement.on_conflict_do_nothing(
        index_elements=["meter_id", "kind"], index_where=col(Alert.closed_at).is_(None)
    )
    return session.connection().execute(statement.returning(Alert.__table__.c.id)).scalar()


def _tally(counts: Counter[str]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))


# Service incidents from condition sensors


def detect_incidents(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    """Opens a service incident for hot water or heating below the norm; closes it when it clears.

    Through `housing.incidents.service` only. The origin is `sensor:{serial}`, so each sensor
    has at most one open incident per service, and a second run records nothing new.
    """
    now = now or clock.now()
    zone = ZoneInfo(settings.timezone)
    today = clock.local_day(now, settings.timezone)
    m = settings.meters
    rules = {
        SensorKind.hot_water_temperature.value: (
            Utility.hot_water,
            conditions.hot_water_rule(m.hot_water_min_c, m.hot_water_allowed_deviation_c),
        ),
        SensorKind.indoor_temperature.value: (
            Utility.heating,
            conditions.heating_rule(m.indoor_min_c, m.heating_season, settings.timezone),
        ),
    }
    tally: Counter[str] = Counter()

    def batch(session: Session, ids: list[int]) -> None:
        sensors = list(session.exec(select(Sensor).where(col(Sensor.id).in_(ids)).order_by(Sensor.id)))
        _incident_batch(session, sensors, rules, now, today, zone, tally)

    def due(session: Session, after: int) -> list[int]:
        query = select(Sensor.id).where(_incident_sensors(today), Sensor.id > after)
        return list(session.exec(query.order_by(Sensor.id).limit(BATCH)))

    checked, failed = each_batch(engine, due, batch, [tally], "sensor")
    return (
        f"checked {checked} sensors: opened {tally['opened']} incidents, closed {tally['closed']}"
        + failures(failed, "sensor")
    )


def _origin(serial: str) -> str:
    return f"sensor:{serial}"


def _incident_sensors(today: date):
    """Sensors in service, and removed ones whose incident is still open (to close it)."""
    with_open = select(ServiceIncident.origin).where(
        col(ServiceIncident.ended_at).is_(None), ServiceIncident.source == IncidentSource.sensor.value
    )
    return or_(_active(Sensor, today), ("sensor:" + col(Sensor.serial)).in_(with_open))


def _incident_batch(
    session: Session,
    sensors: list[Sensor],
    rules: dict[str, tuple[Utility, conditions.Rule]],
    now: datetime,
    today: date,
    zone: ZoneInfo,
    tally: Counter[str],
) -> None:
    since = now - INCIDENT_LOOKBACK
    series: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for sensor_id, taken_at, value in session.exec(
        select(Measurement.sensor_id, Measurement.taken_at, Measurement.value).where(
            col(Measurement.sensor_id).in_([s.id for s in sensors]),
            Measurement.taken_at >= since,
            Measurement.taken_at <= now,
        )
    ):
        series[sensor_id].append((taken_at, value))
    incidents: dict[tuple[str, str], list[ServiceIncident]] = defaultdict(list)
    for incident in session.exec(
        select(ServiceIncident).where(
            col(ServiceIncident.origin).in_([_origin(s.serial) for s in sensors]),
            ServiceIncident.source == IncidentSource.sensor.value,
            or_(col(ServiceIncident.ended_at).is_(None), ServiceIncident.ended_at >= since),
        )
    ):
        incidents[incident.origin, str(incident.utility)].append(incident)
    for sensor in sensors:
        utility, rule = rules[str(sensor.kind)]
        recorded = incidents[_origin(sensor.serial), utility.value]
        if sensor.removed_on is not None and sensor.removed_on <= today:
            removed_at = datetime.combine(sensor.removed_on, time(), zone)
            for incident in recorded:
                if incident.ended_at is None:
                    close_incident(session, incident, ended_at=max(removed_at, incident.started_at))
                    tally["closed"] += 1
            continue
        known = [conditions.Known(i.id, i.started_at, i.ended_at) for i in recorded]
        actions = conditions.reconcile(series[sensor.id], rule, known, now)
        by_id = {i.id: i for i in recorded}
        _apply_incident_actions(session, sensor, utility, rule, actions, by_id, tally, now)


def _apply_incident_actions(
    session: Session,
    sensor: Sensor,
    utility: Utility,
    rule: conditions.Rule,
    actions: list[conditions.Action],
    by_id: dict[int, ServiceIncident],
    tally: Counter[str],
    now: datetime,
) -> None:
    latest: ServiceIncident | None = None
    opened: list[ServiceIncident] = []
    for action in actions:
        if action.kind == "close":
            incident = latest if action.incident_id is None else by_id[action.incident_id]
            close_incident(session, incident, ended_at=action.at)
            tally["closed"] += 1
            continue
        latest = open_incident(
            session,
            building_id=sensor.building_id,
            apartment_id=sensor.apartment_id,
            utility=utility,
            source=IncidentSource.sensor,
            origin=_origin(sensor.serial),
            started_at=action.at,
            deviation=action.deviation,
            detail=_incident_detail(sensor, utility, rule, action),
        )
        if action.kind == "open":
            tally["opened"] += 1
            opened.append(latest)
    for incident in opened:  # one that opened and closed within the look-back is past news
        if incident.ended_at is None:
            incident_notices.incident_opened(session, incident, now)


def _incident_detail(
    sensor: Sensor, utility: Utility, rule: conditions.Rule, action: conditions.Action
) -> str:
    if utility is Utility.hot_water:
        return (
            f"hot water down to {action.worst} C at sensor {sensor.serial}, {action.deviation} C below "
            f"the {rule.norm} C norm (incident below {rule.limit} C for an hour)"
        )
    return (
        f"living room down to {action.worst} C at sensor {sensor.serial}, {action.deviation} C below "
        f"the {rule.norm} C minimum of the heating season"
    )
