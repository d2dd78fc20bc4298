"""The simulated devices: the smart meters in service and the sensors, loaded from the database.

Each `Device` carries its register (from the newest stored reading, or estimated from its
years in service) and where simulated time starts (`default_start`).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, func, select

from housing.db import utcnow
from housing.registry.models import Apartment, Building
from sensors.ingest.payloads import Channel, device_topic
from sensors.models import Meter, Reading, Sensor
from sensors.simulator.profiles import DEFAULT_BUILDING_AREA_M2, STEP, TIMEZONE, floor_step, mean_daily_use

CATCH_UP = timedelta(days=1)  # the earliest default start: at most this far behind the clock


@dataclass(slots=True)
class Device:
    """A smart meter or a sensor as the simulator drives it."""

    serial: str
    kind: str  # a MeterKind or SensorKind value
    is_meter: bool
    residents: int = 1
    area_m2: float = 50.0
    apartment_id: int | None = None
    building_id: int | None = None
    value: int = 0  # the register in thousandths of the unit (meters)
    seq: int = 0
    last_at: datetime | None = None  # the newest stored reading
    leak: bool = False
    faulty: bool = False  # lukewarm or cold flat, for sensors
    quiet_rounds: int = 0
    held: list[dict[str, Any]] = field(default_factory=list)

    def topic(self, root: str, contract: str = "v2") -> str:
        return device_topic(root, Channel.meters if self.is_meter else Channel.sensors, self.serial, contract)


def load_devices(engine: Engine) -> list[Device]:
    """Smart meters in service (with their latest reading) and sensors, ordered by serial."""
    latest = (
        select(Reading.meter_id, func.max(Reading.taken_at).label("taken_at"))
        .group_by(Reading.meter_id)
        .subquery()
    )
    last_reading = (
        select(Reading.meter_id, Reading.taken_at, Reading.value, Reading.seq)
        .join(latest, and_(Reading.meter_id == latest.c.meter_id, Reading.taken_at == latest.c.taken_at))
        .subquery()
    )
    meters = (
        select(
            Meter.serial,
            Meter.kind,
            Meter.apartment_id,
            Meter.building_id,
            Meter.installed_on,
            Meter.initial_value,
            Apartment.registered_residents,
            Apartment.area_m2,
            Building.total_area_m2,
            last_reading.c.taken_at,
            last_reading.c.value,
            last_reading.c.seq,
        )
        .join(Building, Building.id == Meter.building_id)
        .outerjoin(Apartment, Apartment.id == Meter.apartment_id)
        .outerjoin(last_reading, last_reading.c.meter_id == Meter.id)
        .where(Meter.smart.is_(True), Meter.removed_on.is_(None))
        .order_by(Meter.serial)
    )
    sensors = (
        select(Sensor.serial, Sensor.kind, Sensor.apartment_id, Sensor.building_id)
        .where(Sensor.removed_on.is_(None))
        .order_by(Sensor.serial)
    )
    today = utcnow().astimezone(TIMEZONE).date()
    devices = []
    with engine.connect() as connection:
        for row in connection.execute(meters):
            if row.apartment_id is not None:
                residents, area = row.registered_residents or 0, float(row.area_m2 or 50)
            else:
                residents, area = 0, float(row.total_area_m2 or DEFAULT_BUILDING_AREA_M2)
            if row.value is not None:
                value = int(Decimal(row.value).scaleb(3))
            else:  # never read: what the register would show after its years in service
                days = max(0, (today - row.installed_on).days)
                estimate = mean_daily_use(row.kind, residents=residents, area_m2=area) * days
                value = int(Decimal(row.initial_value).scaleb(3)) + round(estimate * 1000)
            taken_at = row.taken_at
            if taken_at is not None and taken_at.tzinfo is None:  # SQLite through an aggregate
                taken_at = taken_at.replace(tzinfo=UTC)
            devices.append(
                Device(
                    serial=row.serial,
                    kind=str(row.kind),
                    is_meter=True,
                    residents=residents,
                    area_m2=area,
                    apartment_id=row.apartment_id,
                    building_id=row.building_id,
                    value=value,
                    seq=row.seq or 0,
                    last_at=taken_at,
                )
            )
        for row in connection.execute(sensors):
            devices.append(
                Device(
                    serial=row.serial,
                    kind=str(row.kind),
                    is_meter=False,
                    apartment_id=row.apartment_id,
                    building_id=row.building_id,
                )
            )
    return devices


def default_start(devices: Sequence[Device], now: datetime) -> datetime:
    """The quarter hour after the newest stored reading, but no more than CATCH_UP behind now."""
    newest = max((d.last_at for d in devices if d.last_at is not None), default=None)
    earliest = floor_step(now) - CATCH_UP
    if newest is None:
        return earliest
    return min(max(floor_step(newest) + STEP, earliest), floor_step(now))
