"""Plain factory functions for meters, sensors and readings; each flushes, none commits."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import Session

from housing.registry.models import Apartment, Building
from sensors.meters import service
from sensors.models import Meter, MeterKind, Reading, ReadingSource, Sensor, SensorKind
from tests.factories.core import make_apartment

_seq = itertools.count(1)


def make_meter(
    session: Session, apartment: Apartment | None = None, building: Building | None = None, **kw
) -> Meter:
    """An apartment meter (a new apartment when neither is given), or a common one for a building."""
    fields = {"serial": f"MTR-{next(_seq):06d}", "kind": MeterKind.cold_water} | kw
    return service.register_meter(session, **_placed(session, apartment, building) | fields)


def make_sensor(
    session: Session, apartment: Apartment | None = None, building: Building | None = None, **kw
) -> Sensor:
    """An apartment sensor (a new apartment when neither is given), or a common one for a building."""
    fields = {"serial": f"SNS-{next(_seq):06d}", "kind": SensorKind.indoor_temperature} | kw
    return service.register_sensor(session, **_placed(session, apartment, building) | fields)


def _placed(session: Session, apartment: Apartment | None, building: Building | None) -> dict:
    """Where a device hangs and since when: the apartment or the building (a new apartment when neither)."""
    if apartment is None and building is None:
        apartment = make_apartment(session)
    return {
        "installed_on": date(2024, 1, 1),
        "building_id": building.id if building is not None else None,
        "apartment_id": apartment.id if apartment is not None else None,
    }


def add_reading(
    session: Session, meter: Meter, taken_at: datetime, value: Decimal | str | int, source: str = "mqtt"
) -> Reading:
    reading = Reading(
        meter_id=meter.id,
        taken_at=taken_at,
        value=Decimal(str(value)),
        source=ReadingSource(source),
        received_at=datetime.now(UTC),
    )
    session.add(reading)
    session.flush()
    return reading
