"""Factories for meters, sensors, readings and measurements: plain functions that flush."""

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import Session

from housing.registry.models import Apartment, Building
from sensors.meters.service import register_meter, register_sensor
from sensors.models import Measurement, Meter, MeterKind, Reading, ReadingSource, Sensor, SensorKind
from tests.factories.core import make_building

_seq = itertools.count(1)


def make_meter(
    session: Session,
    building: Building | None = None,
    apartment: Apartment | None = None,
    kind: MeterKind = MeterKind.cold_water,
    **kw,
) -> Meter:
    fields = {"serial": f"M-{next(_seq):05d}", "installed_on": date(2025, 1, 1)} | kw
    return register_meter(session, kind=kind, **_placed(session, building, apartment), **fields)


def make_sensor(
    session: Session,
    kind: SensorKind,
    building: Building | None = None,
    apartment: Apartment | None = None,
    **kw,
) -> Sensor:
    fields = {"serial": f"S-{next(_seq):05d}", "installed_on": date(2025, 1, 1)} | kw
    return register_sensor(session, kind=kind, **_placed(session, building, apartment), **fields)


def _placed(session: Session, building: Building | None, apartment: Apartment | None) -> dict:
    """In the apartment when one is given, else in the building (a new one when neither is)."""
    if apartment is not None:
        return {"apartment_id": apartment.id}
    return {"building_id": (building or make_building(session)).id}


def add_readings(
    session: Session,
    meter: Meter,
    rows: Iterable[tuple[datetime, Decimal | str]],
    source: ReadingSource = ReadingSource.mqtt,
) -> list[Reading]:
    readings = [
        Reading(
            meter_id=meter.id,
            taken_at=taken_at,
            value=Decimal(value),
            source=source,
            received_at=datetime.now(UTC),
        )
        for taken_at, value in rows
    ]
    session.add_all(readings)
    session.flush()
    return readings


def add_measurements(
    session: Session, sensor: Sensor, rows: Iterable[tuple[datetime, Decimal | str]]
) -> list[Measurement]:
    measurements = [
        Measurement(
            sensor_id=sensor.id, taken_at=taken_at, value=Decimal(value), received_at=datetime.now(UTC)
        )
        for taken_at, value in rows
    ]
    session.add_all(measurements)
    session.flush()
    return measurements
