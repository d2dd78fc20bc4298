"""Meters, sensors and reading history for a seeded city, written in bulk.

`seed_meters` gives every apartment that has no meter its four (cold and hot water,
electricity, gas), every building a common heat meter and a hot-water temperature
sensor, and about one apartment in twenty an indoor temperature sensor. Rows go in
through SQLAlchemy Core executemany, a few thousand apartments per transaction, so a
city of thousands of apartments takes seconds. Running it again adds nothing: only
apartments without meters and buildings without their heat meter or sensor get one.

`seed_reading_history` writes past readings for meters that have none: smart meters
one a day (at local midnight) for the last month and one a month before that, manual
meters one a month inside the residents' submission window. Values follow the
simulator's usage profiles, so charts, billing and the live simulation line up.
"""

import functools
import random
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, insert, select

from housing.clock import add_months
from housing.db import is_postgres, utcnow
from housing.registry.models import Apartment, Building
from housing.settings import MeterSettings
from sensors.models import UNITS, Meter, MeterKind, Reading, ReadingSource, Sensor, SensorKind
from sensors.simulator.profiles import DEFAULT_BUILDING_AREA_M2, TIMEZONE, daily_use, mean_daily_use

CHUNK_APARTMENTS = 5000
CHUNK_READINGS = 20_000
SMART_SHARE = 0.85
INDOOR_SENSOR_SHARE = 0.05
DUE_SOON_EVERY = 40  # one meter in this many is due for verification within 30 days
APARTMENT_KINDS = (MeterKind.cold_water, MeterKind.hot_water, MeterKind.electricity, MeterKind.gas)
PREFIX = {
    MeterKind.cold_water: "CW",
    MeterKind.hot_water: "HW",
    MeterKind.electricity: "EL",
    MeterKind.gas: "GS",
    MeterKind.heat: "HT",
}
SENSOR_PREFIX = {SensorKind.hot_water_temperature: "HWT", SensorKind.indoor_temperature: "IT"}
DIGITS = {
    MeterKind.cold_water: 5,
    MeterKind.hot_water: 5,
    MeterKind.gas: 5,
    MeterKind.electricity: 6,
    MeterKind.heat: 6,
}
# Calibration intervals in years (typical for Uzbekistan and the CIS).
VERIFICATION_YEARS = {
    MeterKind.cold_water: 6,
    MeterKind.hot_water: 4,
    MeterKind.electricity: 16,
    MeterKind.gas: 10,
    MeterKind.heat: 4,
}
# The register when fitted, in thousandths of the unit: (low, high).
INITIAL_VALUE = {
    MeterKind.cold_water: (0, 8_000),
    MeterKind.hot_water: (0, 5_000),
    MeterKind.electricity: (0, 60_000),
    MeterKind.gas: (0, 10_000),
    MeterKind.heat: (0, 20_000),
}
MIN_AGE_DAYS = 365
MAX_AGE_DAYS = 6 * 365
DAILY_HISTORY_DAYS = 31
MANUAL_READING_HOUR = 19


class _Serials:
    """Next number per serial prefix, above anything stored (CW-000001, HWT-000001, ...)."""

    def __init__(self, connection: Connection) -> None:
        self.next: dict[str, int] = {}
        for model in (Meter, Sensor):
            for (serial,) in connection.execute(select(model.serial)):
                prefix, _, number = serial.partition("-")
                if number.isdigit():
                    self.next[prefix] = max(self.next.get(prefix, 1), int(number) + 1)

    def take(self, prefix: str) -> str:
        number = self.next.get(prefix, 1)
        self.next[prefix] = number + 1
        return f"{prefix}-{number:06d}"


class _MeterWriter:
    def __init__(self, connection: Connection, rng: random.Random, today: date, now: datetime) -> None:
        self.connection = connection
        self.rng = rng
        self.today = today
        self.now = now
        self.serials = _Serials(connection)
        self.position = 0  # meters made so far in this run
        self.counts = {
            "meters": 0,
            "smart": 0,
            "apartments": 0,
            "heat": 0,
            "hot_water_sensors": 0,
            "indoor": 0,
        }

    def meter(
        self, kind: MeterKind, building_id: int, apartment_id: int | None, smart: bool
    ) -> dict[str, Any]:
        rng, today = self.rng, self.today
        years = VERIFICATION_YEARS[kind]
        age = rng.randint(MIN_AGE_DAYS, min(MAX_AGE_DAYS, years * 365 - 60))
        installed = today - timedelta(days=age)
        if self.position % DUE_SOON_EVERY == 0:
            due = today + timedelta(days=rng.randint(1, 30))
        else:
            due = _add_years(installed, years)
        self.position += 1
        low, high = INITIAL_VALUE[kind]
        return self._stamped(
            serial=self.serials.take(PREFIX[kind]),
            kind=kind.value,
            unit=UNITS[kind],
            building_id=building_id,
            apartment_id=apartment_id,
            smart=smart,
            digits=DIGITS[kind],
            installed_on=installed,
            verification_due=due,
            initial_value=Decimal(rng.randint(low, high)).scaleb(-3),
            removed_on=None,
            final_value=None,
            replaced_by_id=None,
        )

    def sensor(self, kind: SensorKind, building_id: int, apartment_id: int | None) -> dict[str, Any]:
        installed = self.today - timedelta(days=self.rng.randint(MIN_AGE_DAYS, MAX_AGE_DAYS))
        return self._stamped(
            serial=self.serials.take(SENSOR_PREFIX[kind]),
            kind=kind.value,
            building_id=building_id,
            apartment_id=apartment_id,
            installed_on=installed,
            removed_on=None,
        )

    def write_apartments(self, apartments: Sequence[tuple[int, int]]) -> None:
        meters, sensors = [], []
        for apartment_id, building_id in apartments:
            smart = self.rng.random() < SMART_SHARE  # a flat is retrofitted as a whole, or not
            meters.extend(self.meter(kind, building_id, apartment_id, smart) for kind in APARTMENT_KINDS)
            if self.rng.random() < INDOOR_SENSOR_SHARE:
                sensors.append(self.sensor(SensorKind.indoor_temperature, building_id, apartment_id))
            self.counts["smart"] += 4 if smart else 0
        self._write(meters, sensors)
        self.counts["apartments"] += len(apartments)
        self.counts["indoor"] += len(sensors)

    def write_buildings(self, needing_heat: Sequence[int], needing_sensor: Sequence[int]) -> None:
        heat = [self.meter(MeterKind.heat, b, None, True) for b in needing_heat]
        sensors = [self.sensor(SensorKind.hot_water_temperature, b, None) for b in needing_sensor]
        self._write(heat, sensors)
        self.counts["smart"] += len(heat)
        self.counts["heat"] += len(heat)
        self.counts["hot_water_sensors"] += len(sensors)

    def _write(self, meters: list[dict[str, Any]], sensors: list[dict[str, Any]]) -> None:
        """Inserts the meter and sensor rows in one transaction; counts the meters."""
        self._insert(Meter, meters)
        self._insert(Sensor, sensors)
        self.connection.commit()
        self.counts["meters"] += len(meters)

    def _insert(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(model), rows)

    def _stamped(self, **row: Any) -> dict[str, Any]:
        row["created_at"] = row["updated_at"] = self.now
        return row


def _buildings_without(connection: Connection, model: Any, kind: StrEnum, *more: Any) -> Sequence[int]:
    """The ids, in order, of the buildings with no `model` row (a meter or a sensor) of that kind."""
    held = exists().where(model.building_id == Building.id, *more, model.kind == kind.value)
    return connection.execute(select(Building.id).where(~held).order_by(Building.id)).scalars().all()


def seed_meters(engine: Engine, *, today: date, rng_seed: int = 2026) -> str:
    """Meters and sensors for every apartment and building still without them; a summary line."""
    started = time.perf_counter()
    with engine.connect() as connection:
        apartments = connection.execute(
            select(Apartment.id, Apartment.building_id)
            .where(~exists().where(Meter.apartment_id == Apartment.id))
            .order_by(Apartment.id)
        ).all()
        needing_heat = _buildings_without(connection, Meter, MeterKind.heat, Meter.apartment_id.is_(None))
        needing_sensor = _buildings_without(connection, Sensor, SensorKind.hot_water_temperature)
        stored = connection.execute(select(func.count()).select_from(Meter)).scalar_one()
        # Mixing in what is already there makes a second batch differ from the first.
        rng = random.Random(f"{rng_seed}/{stored}")  # noqa: S311 - made-up data, not secrets
        writer = _MeterWriter(connection, rng, today, utcnow())
        for chunk in _chunks(apartments, CHUNK_APARTMENTS):
            writer.write_apartments(chunk)
        writer.write_buildings(needing_heat, needing_sensor)
    c = writer.counts
    return (
        f"Seeded {c['meters']:,} meters ({c['smart']:,} smart) for {c['apartments']:,} apartments, "
        f"incl. {c['heat']:,} building heat meters; {c['hot_water_sensors']:,} hot-water and "
        f"{c['indoor']:,} indoor temperature sensors in {time.perf_counter() - started:.1f} s"
    )


def seed_reading_history(
    engine: Engine,
    *,
    months: int,
    today: date,
    daily_days: int = DAILY_HISTORY_DAYS,
    rng_seed: int = 2026,
    window: tuple[int, int] | None = None,
) -> str:
    """Past readings for meters in service that have none yet; a summary line.

    From the first of the month `months` before today's until today: smart meters read
    at local midnight, daily for the last `daily_days` days and on the first of each
    month before that; manual meters once a month on a day of the submission `window`
    (first and last day; default the settings' default, 15th-25th) that has passed. A meter's register starts from its initial value plus
    its average use since installation, then grows by each day's use.
    """
    if months < 0:
        raise ValueError("months must not be negative")
    started = time.perf_counter()
    if window is None:
        defaults = MeterSettings()
        window = (defaults.window_start_day, defaults.window_end_day)
    first = add_months(today.replace(day=1), -months)
    daily_from = today - timedelta(days=daily_days)
    rng = random.Random(f"{rng_seed}/history/{today.isoformat()}")  # noqa: S311 - made-up data
    received = utcnow()
    has_reading = exists().where(Reading.meter_id == Meter.id)
    meters = (
        select(
            Meter.id,
            Meter.kind,
            Meter.smart,
            Meter.apartment_id,
            Meter.installed_on,
            Meter.initial_value,
            Apartment.registered_residents,
            Apartment.area_m2,
            Building.total_area_m2,
        )
        .join(Building, Building.id == Meter.building_id)
        .outerjoin(Apartment, Apartment.id == Meter.apartment_id)
        .where(Meter.removed_on.is_(None), Meter.installed_on < today, ~has_reading)
        .order_by(Meter.id)
    )
    written = meters_done = 0
    with engine.connect() as connection:
        rows = connection.execute(meters).all()
        buffer: list[tuple[Any, ...]] = []
        for meter in rows:
            buffer.extend(_history(meter, first, daily_from, today, rng, received, window))
            meters_done += 1
            if len(buffer) >= CHUNK_READINGS:
                written += _insert_readings(connection, buffer)
                buffer = []
        if buffer:
            written += _insert_readings(connection, buffer)
    return (
        f"Seeded {written:,} past readings for {meters_done:,} meters since {first.isoformat()} "
        f"in {time.perf_counter() - started:.1f} s"
    )


READING_COLUMNS = ("meter_id", "taken_at", "value", "source", "seq", "received_at")


def _insert_readings(connection: Connection, rows: list[tuple[Any, ...]]) -> int:
    """One transaction per chunk: COPY on PostgreSQL (twice as fast), executemany elsewhere."""
    if is_postgres(connection):
        if not connection.in_transaction():  # so that commit() below commits the COPY too
            connection.begin()
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY reading ({', '.join(READING_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        connection.execute(insert(Reading), [dict(zip(READING_COLUMNS, row, strict=True)) for row in rows])
    connection.commit()
    return len(rows)


def _history(
    meter: Any,
    first: date,
    daily_from: date,
    today: date,
    rng: random.Random,
    received: datetime,
    window: tuple[int, int],
) -> list[tuple[Any, ...]]:
    """(meter_id, taken_at, value, source, seq, received_at) rows of one meter, oldest first."""
    if meter.apartment_id is not None:
        residents, area = meter.registered_residents or 0, float(meter.area_m2 or 50)
    else:
        residents, area = 0, float(meter.total_area_m2 or DEFAULT_BUILDING_AREA_M2)
    kind = MeterKind(meter.kind)
    begin = max(first, meter.installed_on + timedelta(days=1))
    before = (begin - meter.installed_on).days
    value = int(Decimal(meter.initial_value).scaleb(3)) + round(
        mean_daily_use(kind, residents=residents, area_m2=area) * before * 1000
    )
    random_ = rng.random

    def use(rate: float, days: int) -> int:
        """A span's use in thousandths: a single day varies more than a month does."""
        if days <= 0:
            return 0
        spread = 0.6 if days == 1 else 0.2
        return round(rate * days * (1 - spread / 2 + spread * random_()))

    out = []
    day, one_day = begin, timedelta(days=1)
    while day <= today:  # one calendar month (or what is left of it) at a time
        last = min(add_months(day, 1) - one_day, today)
        rate = daily_use(kind, day, residents=residents, area_m2=area) * 1000
        at = day
        if meter.smart:
            points = [day] if day.day == 1 and day < daily_from else []
            points += [d for d in _days(max(day, daily_from), last)]
            for point in points:
                value += use(rate, (point - at).days)
                at = point
                out.append(_reading(meter.id, point, 0, value, ReadingSource.mqtt, received))
        else:
            days_in_month = (add_months(day.replace(day=1), 1) - one_day).day
            point = day.replace(day=rng.randint(window[0], min(window[1], days_in_month)))
            if day <= point <= last and point < today:  # read in the evening
                value += use(rate, (point - at).days)
                at = point
                evening = value + round(rate * MANUAL_READING_HOUR / 24)
                out.append(
                    _reading(meter.id, point, MANUAL_READING_HOUR, evening, ReadingSource.manual, received)
                )
        value += use(rate, (last - at).days + 1)
        day = last + one_day
    return out


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _reading(
    meter_id: int, day: date, hour: int, value: int, source: ReadingSource, received: datetime
) -> tuple[Any, ...]:
    taken_at = _local_instant(day, hour)
    received_at = min(received, taken_at + timedelta(minutes=1))
    return (meter_id, taken_at, Decimal(value).scaleb(-3), source.value, None, received_at)


@functools.lru_cache(maxsize=4096)
def _local_instant(day: date, hour: int) -> datetime:
    """`hour`:00 local time of `day`, in UTC (shared by every meter read then)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=TIMEZONE).astimezone(UTC)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
