from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from housing.accounts.models import Role
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from sensors.jobs import detect_alerts, detect_incidents
from sensors.meters.conditions import in_season, parse_season
from sensors.meters.service import review_reading
from sensors.models import Alert, AlertKind, BackwardsVerdict, MeterKind, ReadingSource, SensorKind
from tests.factories.core import make_apartment, make_user
from tests.factories.readings import add_measurements, add_readings, make_meter, make_sensor
from tests.faults import allow_inserts, refuse_inserts

TASHKENT = ZoneInfo("Asia/Tashkent")
QUARTER = timedelta(minutes=15)


def alerts_of(session, kind: AlertKind) -> list[tuple[int, datetime | None, str]]:
    session.expire_all()
    rows = session.exec(select(Alert).where(Alert.kind == kind).order_by(Alert.id))
    return [(a.meter_id, a.closed_at, a.detail) for a in rows]


def night_readings(day: date, start: str, litres_per_quarter: list[str]) -> list[tuple[datetime, Decimal]]:
    """Readings every 15 minutes from local midnight; the flow of each quarter is given."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=TASHKENT)
    value, rows = Decimal(start), [(midnight, Decimal(start))]
    for i, flow in enumerate(litres_per_quarter, start=1):
        value += Decimal(flow)
        rows.append((midnight + i * QUARTER, value))
    return rows


def test_water_flowing_all_night_opens_one_leak_alert_even_when_the_job_runs_twice(session, settings, db):
    leaking = make_meter(session, kind=MeterKind.cold_water)
    sleeping = make_meter(session, kind=MeterKind.hot_water)
    add_readings(session, leaking, night_readings(date(2026, 11, 20), "100", ["0.004"] * 24))
    # The other flat's water stops for the hour from 02:00 to 03:00.
    add_readings(
        session,
        sleeping,
        night_readings(date(2026, 11, 20), "50", ["0.004"] * 8 + ["0"] * 4 + ["0.004"] * 12),
    )
    session.commit()
    morning = datetime(2026, 11, 20, 6, 10, tzinfo=TASHKENT)

    first = detect_alerts(db, settings, now=morning)
    second = detect_alerts(db, settings, now=morning + timedelta(hours=1))

    [(meter_id, closed_at, detail)] = alerts_of(session, AlertKind.leak)
    assert (meter_id, closed_at) == (leaking.id, None)
    assert (
        "water flowed all night on 2026-11-20: at least 0.016 m3 in every hour from 01:00 to 05:00" in detail
    )
    assert "opened leak 1" in first
    assert "opened none" in second


def test_a_leak_alert_closes_after_a_night_with_an_hour_without_flow(session, settings, db):
    meter = make_meter(session, kind=MeterKind.cold_water)
    add_readings(session, meter, night_readings(date(2026, 11, 20), "100", ["0.004"] * 24))
    session.commit()
    detect_alerts(db, settings, now=datetime(2026, 11, 20, 6, 10, tzinfo=TASHKENT))
    add_readings(session, meter, night_readings(date(2026, 11, 21), "101", ["0.004"] * 12 + ["0"] * 12)[1:])
    session.commit()

    next_morning = datetime(2026, 11, 21, 6, 10, tzinfo=TASHKENT)
    detect_alerts(db, settings, now=next_morning)

    [(_meter_id, closed_at, _detail)] = alerts_of(session, AlertKind.leak)
    assert closed_at == next_morning


def test_a_silent_smart_meter_gets_a_stale_alert_that_closes_when_a_reading_arrives(session, settings, db):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    silent = make_meter(session, installed_on=date(2026, 11, 1))
    by_hand = make_meter(session, smart=False, installed_on=date(2026, 11, 1))
    add_readings(session, silent, [(now - timedelta(hours=50), "10.000")])
    add_readings(session, by_hand, [(now - timedelta(days=20), "10.000")], source=ReadingSource.manual)
    session.commit()

    detect_alerts(db, settings, now=now)
    assert alerts_of(session, AlertKind.stale) == [(silent.id, None, "no reading since 2026-11-18 10:00 UTC")]

    add_readings(session, silent, [(now + timedelta(minutes=30), "10.500")])
    session.commit()
    detect_alerts(db, settings, now=now + timedelta(hours=1))
    assert alerts_of(session, AlertKind.stale) == [
        (silent.id, now + timedelta(hours=1), "no reading since 2026-11-18 10:00 UTC")
    ]


def test_a_meter_never_heard_from_is_stale_counted_from_its_installation(session, settings, db):
    meter = make_meter(session, installed_on=date(2026, 11, 19))
    session.commit()

    detect_alerts(db, settings, now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    assert alerts_of(session, AlertKind.stale) == []

    detect_alerts(db, settings, now=datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    assert alerts_of(session, AlertKind.stale) == [
        (meter.id, None, "no reading since installation on 2026-11-19")
    ]


def test_verification_due_within_the_warning_period_raises_an_alert_until_it_is_moved(session, settings, db):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    soon = make_meter(session, smart=False, verification_due=date(2026, 12, 5))
    make_meter(session, smart=False, verification_due=date(2027, 6, 1))
    session.commit()

    detect_alerts(db, settings, now=now)
    assert alerts_of(session, AlertKind.verification_due) == [
        (soon.id, None, "verification due on 2026-12-05, in 15 days")
    ]

    soon.verification_due = date(2032, 12, 5)  # verified: the next date is years away
    session.add(soon)
    session.commit()
    detect_alerts(db, settings, now=now + timedelta(days=1))
    [(_meter_id, closed_at, _detail)] = alerts_of(session, AlertKind.verification_due)
    assert closed_at == now + timedelta(days=1)


def test_a_backwards_reading_raises_an_alert_until_staff_review_it(session, settings, db):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    admin = make_user(session, Role.admin)
    meter = make_meter(session)
    _, wrong, _ = add_readings(
        session,
        meter,
        [
            (now - timedelta(hours=3), "500"),
            (now - timedelta(hours=2), "50"),
            (now - timedelta(hours=1), "501"),
        ],
    )
    session.commit()

    detect_alerts(db, settings, now=now)
    [(meter_id, closed_at, detail)] = alerts_of(session, AlertKind.backwards)
    assert (meter_id, closed_at) == (meter.id, None)
    assert detail.startswith(
        "1 reading(s) lower than the one before, the first taken at 2026-11-20 10:00 UTC (50.000)"
    )

    detect_alerts(db, settings, now=now + timedelta(hours=1))
    assert len(alerts_of(session, AlertKind.backwards)) == 1

    review_reading(session, wrong, verdict=BackwardsVerdict.error, reason="a glitch", user_id=admin.id)
    session.commit()
    detect_alerts(db, settings, now=now + timedelta(hours=2))
    [(_meter_id, closed_at, _detail)] = alerts_of(session, AlertKind.backwards)
    assert closed_at == now + timedelta(hours=2)


def incidents(session) -> list[ServiceIncident]:
    session.expire_all()
    return list(session.exec(select(ServiceIncident).order_by(ServiceIncident.id)))


def every_quarter(start: datetime, values: list[str]) -> list[tuple[datetime, str]]:
    return [(start + i * QUARTER, value) for i, value in enumerate(values)]


def test_lukewarm_hot_water_for_over_an_hour_opens_an_incident_that_closes_when_it_is_hot(
    session, settings, db
):
    sensor = make_sensor(session, SensorKind.hot_water_temperature)
    nine = datetime(2026, 11, 20, 9, 0, tzinfo=TASHKENT)
    # A 15-minute dip at 09:30 is no incident; from 10:15 it stays below 55 C for over an hour.
    temperatures = ["62", "61", "52", "53", "62", "54", "50", "48", "51", "53", "52"]
    add_measurements(session, sensor, every_quarter(nine, temperatures))
    session.commit()

    detect_incidents(db, settings, now=nine + timedelta(hours=2, minutes=35))

    [incident] = incidents(session)
    assert incident.utility == Utility.hot_water
    assert incident.source == IncidentSource.sensor
    assert incident.origin == f"sensor:{sensor.serial}"
    assert incident.building_id == sensor.building_id
    assert incident.started_at == nine + 5 * QUARTER
    assert incident.ended_at is None
    assert incident.deviation == Decimal("12.00")  # 48 C against the 60 C norm
    assert "48.00 C" in incident.detail

    add_measurements(session, sensor, [(nine + 11 * QUARTER, "61")])
    session.commit()
    first = detect_incidents(db, settings, now=nine + timedelta(hours=2, minutes=50))
    second = detect_incidents(db, settings, now=nine + timedelta(hours=3))

    [incident] = incidents(session)
    assert incident.ended_at == nine + 11 * QUARTER
    assert first == "checked 1 sensors: opened 0 incidents, closed 1"
    assert second == "checked 1 sensors: opened 0 incidents, closed 0"


def test_a_whole_episode_between_two_runs_is_recorded_once_with_its_end(session, settings, db):
    sensor = make_sensor(session, SensorKind.hot_water_temperature)
    nine = datetime(2026, 11, 20, 9, 0, tzinfo=TASHKENT)
    add_measurements(session, sensor, every_quarter(nine, ["62", "40", "41", "42", "43", "44", "61", "62"]))
    session.commit()

    detect_incidents(db, settings, now=nine + timedelta(hours=2))
    detect_incidents(db, settings, now=nine + timedelta(hours=3))

    [incident] = incidents(session)
    assert (incident.started_at, incident.ended_at) == (nine + QUARTER, nine + 6 * QUARTER)
    assert incident.deviation == Decimal("20.00")


def test_a_cold_flat_opens_a_heating_incident_in_january_but_not_in_july(session, settings, db):
    flat = make_apartment(session)
    in_winter = make_sensor(session, SensorKind.indoor_temperature, apartment=flat)
    in_summer = make_sensor(session, SensorKind.indoor_temperature, apartment=flat)
    cold = ["17.5", "17", "16.5", "16", "16.5", "17", "17", "17", "17"]  # two hours
    january = datetime(2027, 1, 15, 20, 0, tzinfo=TASHKENT)
    july = datetime(2027, 7, 15, 20, 0, tzinfo=TASHKENT)
    add_measurements(session, in_winter, every_quarter(january, cold))
    add_measurements(session, in_summer, every_quarter(july, cold))
    session.commit()

    detect_incidents(db, settings, now=january + timedelta(hours=2, minutes=10))
    detect_incidents(db, settings, now=july + timedelta(hours=2, minutes=10))

    [incident] = incidents(session)
    assert incident.origin == f"sensor:{in_winter.serial}"
    assert incident.utility == Utility.heating
    assert (incident.building_id, incident.apartment_id) == (flat.building_id, flat.id)
    assert incident.started_at == january
    assert incident.deviation == Decimal("2.00")


def test_the_heating_season_runs_across_the_new_year():
    season = parse_season("10-15..04-15")

    assert in_season(date(2027, 1, 15), season)
    assert in_season(date(2026, 10, 15), season) and in_season(date(2027, 4, 15), season)
    assert not in_season(date(2027, 7, 15), season)
    assert not in_season(date(2027, 4, 16), season)


# A failing item is logged and skipped; the others are done.


@pytest.fixture
def refuse_insert(db, session):
    """Makes the database refuse an insert into `table` when `condition` holds for the new row."""
    made: list[str] = []

    def refuse(table: str, condition: str) -> None:
        refuse_inserts(db, table, condition)
        made.append(table)

    yield refuse
    session.rollback()  # the test's reads hold a lock that DROP TRIGGER would wait for
    for table in made:
        allow_inserts(db, table)


def test_a_meter_whose_alert_cannot_be_stored_is_logged_and_the_others_get_theirs(
    session, settings, db, refuse_insert, caplog
):
    meters = [make_meter(session, kind=MeterKind.cold_water) for _ in range(3)]
    for meter in meters:
        add_readings(session, meter, night_readings(date(2026, 11, 20), "100", ["0.004"] * 24))
    session.commit()
    broken = meters[1]
    refuse_insert("alert", f"NEW.meter_id = {broken.id}")

    summary = detect_alerts(db, settings, now=datetime(2026, 11, 20, 6, 10, tzinfo=TASHKENT))

    leaks = alerts_of(session, AlertKind.leak)
    assert sorted(meter_id for meter_id, _closed, _detail in leaks) == [meters[0].id, meters[2].id]
    assert "opened leak 2" in summary
    assert summary.endswith(f"; 1 failed (meter {broken.id})")
    assert f"meter {broken.id} failed: rolled back and skipped" in caplog.text


def test_a_sensor_whose_incident_cannot_be_stored_is_logged_and_the_others_get_theirs(
    session, settings, db, refuse_insert, caplog
):
    sensors = [make_sensor(session, SensorKind.hot_water_temperature) for _ in range(3)]
    nine = datetime(2026, 11, 20, 9, 0, tzinfo=TASHKENT)
    for sensor in sensors:
        add_measurements(session, sensor, every_quarter(nine, ["48"] * 8))
    session.commit()
    broken = sensors[0]
    refuse_insert("service_incident", f"NEW.origin = 'sensor:{broken.serial}'")

    summary = detect_incidents(db, settings, now=nine + timedelta(hours=2))

    origins = sorted(i.origin for i in incidents(session))
    assert origins == sorted(f"sensor:{s.serial}" for s in sensors[1:])
    assert summary == f"checked 3 sensors: opened 2 incidents, closed 0; 1 failed (sensor {broken.id})"
    assert f"sensor {broken.id} failed: rolled back and skipped" in caplog.text
