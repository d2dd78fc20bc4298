"""Meter and sensor tables. Readings are append-only: corrections and reviews sit beside them."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field, updated_at_field


class MeterKind(StrEnum):
    cold_water = "cold_water"
    hot_water = "hot_water"
    electricity = "electricity"
    gas = "gas"
    heat = "heat"


UNITS = {
    MeterKind.cold_water: "m3",
    MeterKind.hot_water: "m3",
    MeterKind.electricity: "kWh",
    MeterKind.gas: "m3",
    MeterKind.heat: "Gcal",
}


class SensorKind(StrEnum):
    hot_water_temperature = "hot_water_temperature"  # at the tap or the riser, C
    indoor_temperature = "indoor_temperature"  # in a living room, C


class ReadingSource(StrEnum):
    mqtt = "mqtt"  # the meter reported it
    manual = "manual"  # read by hand and entered when read (a resident in the window, or staff)
    staff = "staff"  # entered by staff with its own date and a reason (a paper reading, a back-fill)
    estimate = "estimate"


# Readings of the register as it stood (not estimates): consumption counts each alike.
MEASURED_SOURCES = frozenset({ReadingSource.mqtt, ReadingSource.manual, ReadingSource.staff})


class Meter(SQLModel, table=True):
    __tablename__ = "meter"
    __table_args__ = (
        CheckConstraint("initial_value >= 0", name="initial_value_not_negative"),
        Index(None, "verification_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(max_length=40, unique=True)
    kind: MeterKind = Field(sa_type=String(20))
    unit: str = Field(max_length=10)
    # Every meter stands in a building; an apartment meter names its apartment too, a
    # common (whole-building) meter does not. Staff scoping filters by building.
    building_id: int = Field(foreign_key="building.id", index=True)
    apartment_id: int | None = Field(default=None, foreign_key="apartment.id", index=True)
    smart: bool = Field(default=True, description="Publishes over MQTT; otherwise read by hand")
    digits: int | None = Field(default=None, description="Register digits, for rollover (99999 -> 0)")
    installed_on: date
    verification_due: date | None = None
    initial_value: Decimal = Field(default=Decimal(0), max_digits=14, decimal_places=3)
    removed_on: date | None = None
    final_value: Decimal | None = Field(default=None, max_digits=14, decimal_places=3)
    replaced_by_id: int | None = Field(default=None, foreign_key="meter.id", index=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Sensor(SQLModel, table=True):
    __tablename__ = "sensor"

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(max_length=40, unique=True)
    kind: SensorKind = Field(sa_type=String(30))
    building_id: int = Field(foreign_key="building.id", index=True)
    apartment_id: int | None = Field(default=None, foreign_key="apartment.id")
    installed_on: date
    removed_on: date | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Reading(SQLModel, table=True):
    """One register value of a meter. On PostgreSQL the table is partitioned by month."""

    __tablename__ = "reading"
    __table_args__ = (
        PrimaryKeyConstraint("meter_id", "taken_at"),
        {"postgresql_partition_by": "RANGE (taken_at)"},
    )

    meter_id: int = Field(foreign_key="meter.id")
    taken_at: datetime = Field(sa_type=UTCDateTime)
    value: Decimal = Field(max_digits=14, decimal_places=3)
    source: ReadingSource = Field(sa_type=String(10))
    seq: int | None = None
    received_at: datetime = Field(sa_type=UTCDateTime)


class Measurement(SQLModel, table=True):
    """One condition-sensor value (a temperature)."""

    __tablename__ = "measurement"
    __table_args__ = (PrimaryKeyConstraint("sensor_id", "taken_at"),)

    sensor_id: int = Field(foreign_key="sensor.id")
    taken_at: datetime = Field(sa_type=UTCDateTime)
    value: Decimal = Field(max_digits=6, decimal_places=2)
    received_at: datetime = Field(sa_type=UTCDateTime)


class ReadingCorrection(SQLModel, table=True):
    """Staff's corrected value for a wrong reading; the newest correction wins, the reading stays."""

    __tablename__ = "reading_correction"
    __table_args__ = (Index(None, "meter_id", "taken_at"),)

    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id")
    taken_at: datetime = Field(sa_type=UTCDateTime)
    value: Decimal = Field(max_digits=14, decimal_places=3)
    reason: str = Field(max_length=500)
    user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class StaffReading(SQLModel, table=True):
    """Who entered a dated reading (source staff) and why; beside the reading, which stays as entered."""

    __tablename__ = "staff_reading"
    __table_args__ = (UniqueConstraint("meter_id", "taken_at"),)

    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id")
    taken_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(max_length=500)
    user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class BackwardsVerdict(StrEnum):
    rollover = "rollover"  # the register wrapped past its last digit
    replacement = "replacement"  # a new register was fitted without a new meter record
    error = "error"  # a bad value: keep excluding it


class ReadingReview(SQLModel, table=True):
    """Staff's verdict on a reading that went backwards; until one exists it counts for nothing."""

    __tablename__ = "reading_review"
    __table_args__ = (UniqueConstraint("meter_id", "taken_at"),)

    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id")
    taken_at: datetime = Field(sa_type=UTCDateTime)
    verdict: BackwardsVerdict = Field(sa_type=String(20))
    reason: str = Field(default="", max_length=500)
    user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class RejectedMessage(SQLModel, table=True):
    """An MQTT message that could not become a reading, kept with the reason for staff to see."""

    __tablename__ = "rejected_message"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=300)
    payload: bytes = Field(sa_type=LargeBinary)
    reason: str = Field(max_length=300)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)


class AlertKind(StrEnum):
    leak = "leak"
    stale = "stale"
    backwards = "backwards"
    verification_due = "verification_due"


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    __table_args__ = (
        Index(
            "uq_alert_open",
            "meter_id",
            "kind",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    meter_id: int = Field(foreign_key="meter.id", index=True)
    kind: AlertKind = Field(sa_type=String(20))
    opened_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    detail: str = Field(default="", max_length=500)
