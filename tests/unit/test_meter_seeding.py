"""Bulk meter seeding and reading history: every apartment metered once, plausible history once."""

from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import select

from sensors.models import Meter, Reading, Sensor
from sensors.seeding import seed_meters, seed_reading_history
from sensors.simulator.profiles import TIMEZONE
from tests.factories.core import make_apartment, make_building

TODAY = date(2026, 11, 10)


def seed_apartments(session, buildings: int, per_building: int) -> list:
    made = []
    for _ in range(buildings):
        building = make_building(session)
        made.extend(make_apartment(session, building) for _ in range(per_building))
    session.commit()
    return made


def test_every_apartment_gets_four_meters_and_every_building_its_heat_meter_and_sensor(db, session):
    apartments = seed_apartments(session, buildings=3, per_building=40)
    summary = seed_meters(db, today=TODAY)
    assert "120 apartments" in summary

    meters = session.exec(select(Meter)).all()
    kinds = Counter(m.kind for m in meters)
    assert kinds == {"cold_water": 120, "hot_water": 120, "electricity": 120, "gas": 120, "heat": 3}
    per_apartment = Counter(m.apartment_id for m in meters if m.apartment_id)
    assert set(per_apartment) == {a.id for a in apartments} and set(per_apartment.values()) == {4}
    heat = [m for m in meters if m.kind == "heat"]
    assert all(m.apartment_id is None and m.smart for m in heat)
    assert len({m.building_id for m in heat}) == 3

    prefixes = {m.serial.split("-")[0]: m.kind for m in meters}
    assert prefixes == {"CW": "cold_water", "HW": "hot_water", "EL": "electricity", "GS": "gas", "HT": "heat"}
    assert all(len(m.serial.split("-")[1]) == 6 for m in meters)
    assert {m.kind: m.digits for m in meters} == {
        "cold_water": 5,
        "hot_water": 5,
        "gas": 5,
        "electricity": 6,
        "heat": 6,
    }
    assert all(m.unit == {"electricity": "kWh", "heat": "Gcal"}.get(m.kind, "m3") for m in meters)

    smart_share = sum(m.smart for m in meters if m.apartment_id) / 480
    assert 0.7 < smart_share < 0.95
    for apartment_meters in _by_apartment(meters).values():  # a flat is retrofitted as a whole
        assert len({m.smart for m in apartment_meters}) == 1

    assert all(
        TODAY - timedelta(days=6 * 366) <= m.installed_on <= TODAY - timedelta(days=365) for m in meters
    )
    assert all(m.verification_due > TODAY for m in meters)
    due_soon = [m for m in meters if m.verification_due <= TODAY + timedelta(days=30)]
    assert 1 <= len(due_soon) <= len(meters) // 10
    assert all(m.initial_value >= 0 for m in meters)

    sensors = session.exec(select(Sensor)).all()
    hot = [s for s in sensors if s.kind == "hot_water_temperature"]
    indoor = [s for s in sensors if s.kind == "indoor_temperature"]
    assert sorted(s.building_id for s in hot) == sorted({m.building_id for m in heat})
    assert all(s.apartment_id is None and s.serial.startswith("HWT-") for s in hot)
    assert 1 <= len(indoor) <= 15 and all(s.serial.startswith("IT-") and s.apartment_id for s in indoor)


def test_seeding_again_adds_only_what_is_missing(db, session):
    seed_apartments(session, buildings=2, per_building=5)
    seed_meters(db, today=TODAY)
    meters, sensors = _count(session, Meter), _count(session, Sensor)
    assert "Seeded 0 meters" in seed_meters(db, today=TODAY)
    assert (_count(session, Meter), _count(session, Sensor)) == (meters, sensors)

    building = make_building(session)
    newcomer = make_apartment(session, building)
    session.commit()
    seed_meters(db, today=TODAY)
    added = session.exec(select(Meter).order_by(Meter.id).offset(meters)).all()
    assert sorted(m.kind for m in added) == ["cold_water", "electricity", "gas", "heat", "hot_water"]
    assert {m.apartment_id for m in added} == {newcomer.id, None}
    serials = session.exec(select(Meter.serial)).all()
    assert len(set(serials)) == len(serials)
    assert _count(session, Sensor) >= sensors + 1  # the new building's hot-water sensor


def test_reading_history_is_plausible_and_written_once(db, session):
    seed_apartments(session, buildings=1, per_building=30)
    seed_meters(db, today=TODAY)
    summary = seed_reading_history(db, months=3, today=TODAY)
    assert "since 2026-08-01" in summary

    meters = {m.id: m for m in session.exec(select(Meter)).all()}
    assert {m.smart for m in meters.values()} == {True, False}
    readings = session.exec(select(Reading).order_by(Reading.meter_id, Reading.taken_at)).all()
    series = defaultdict(list)
    for reading in readings:
        series[reading.meter_id].append(reading)
    assert set(series) == set(meters)  # every meter has a history

    for meter_id, rows in series.items():
        meter = meters[meter_id]
        values = [r.value for r in rows]
        assert values == sorted(values) and values[0] >= meter.initial_value
        local = [r.taken_at.astimezone(TIMEZONE) for r in rows]
        assert local[0].date() >= date(2026, 8, 1) and local[-1].date() <= TODAY
        if meter.smart:
            assert {r.source for r in rows} == {"mqtt"}
            assert all(t.hour == 0 and t.minute == 0 for t in local)
            days = [t.date() for t in local]
            assert days[-32:] == [TODAY - timedelta(days=n) for n in range(31, -1, -1)]  # daily lately
            assert date(2026, 8, 1) in days and date(2026, 9, 1) in days  # monthly before
        else:
            assert {r.source for r in rows} == {"manual"}
            assert [(t.year, t.month) for t in local] == [(2026, 8), (2026, 9), (2026, 10)]
            assert all(15 <= t.day <= 25 for t in local)
        if meter.kind == "cold_water" and meter.smart:
            month = rows[-1].value - next(
                r.value for r in rows if r.taken_at.astimezone(TIMEZONE).date() == date(2026, 10, 10)
            )
            assert 1 < month < 25  # m3 a month for one flat

    assert "Seeded 0 past readings" in seed_reading_history(db, months=3, today=TODAY)
    assert _count(session, Reading) == len(readings)


def _by_apartment(meters):
    grouped = defaultdict(list)
    for meter in meters:
        if meter.apartment_id:
            grouped[meter.apartment_id].append(meter)
    return grouped


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()
