"""API models of meters, sensors, readings and alerts: XCreate, XRead."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

from housing.schemas import ReadModel
from housing.validation import AwareMoment, Id, InputModel, RegisterDay
from sensors.models import AlertKind, BackwardsVerdict, MeterKind, ReadingSource, SensorKind

# A serial is the device's MQTT user name and a topic level: no '/', '+', '#' or spaces.
Serial = Annotated[
    str,
    Field(
        min_length=3,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Letters, digits, '.', '_' and '-'; as the device publishes under it",
    ),
]
RegisterValue = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=3)]
Digits = Annotated[int, Field(ge=1, le=12, description="Register digits; 5 means 99999 rolls over to 0")]
Reason = Annotated[str, Field(min_length=3, max_length=500)]


class Placement(InputModel):
    """Where a device stands: an apartment, or the whole building when apartment_id is empty."""

    building_id: Id | None = Field(None, description="May be left out when apartment_id is given")
    apartment_id: Id | None = Field(None, description="Empty for a common (whole-building) device")

    @model_validator(mode="after")
    def somewhere(self):
        if self.building_id is None and self.apartment_id is None:
            raise ValueError("give building_id, apartment_id or both")
        return self


class MeterCreate(Placement):
    serial: Serial
    kind: MeterKind
    smart: bool = Field(True, description="Publishes over MQTT; otherwise residents submit readings")
    digits: Digits | None = None
    installed_on: RegisterDay
    verification_due: RegisterDay | None = Field(None, description="Next verification (calibration) date")
    initial_value: RegisterValue = Decimal(0)

    @model_validator(mode="after")
    def verified_after_installation(self):
        if self.verification_due is not None and self.verification_due < self.installed_on:
            raise ValueError("verification_due must not be before installed_on")
        return self


class MeterRead(ReadModel):
    id: int
    serial: str
    kind: MeterKind
    unit: str
    building_id: int
    apartment_id: int | None
    smart: bool
    digits: int | None
    installed_on: date
    verification_due: date | None
    initial_value: Decimal
    removed_on: date | None
    final_value: Decimal | None
    replaced_by_id: int | None = Field(None, description="The meter that replaced this one")
    replaces_id: int | None = Field(None, description="The meter this one replaced")


class MeterDetail(MeterRead):
    chain: list[int] = Field(
        default_factory=list, description="Ids of the meters in this replacement series, oldest first"
    )


class MeterReplace(InputModel):
    removed_on: RegisterDay = Field(description="The day the old meter came off")
    final_value: RegisterValue = Field(description="The old meter's last register value")
    serial: Serial = Field(description="Serial of the new meter")
    installed_on: RegisterDay | None = Field(
        None, description="The new meter's installation day; removed_on by default"
    )
    initial_value: RegisterValue = Field(Decimal(0), description="The new meter's register at installation")
    verification_due: RegisterDay | None = None
    smart: bool | None = Field(None, description="The old meter's by default")
    digits: Digits | None = Field(None, description="The old meter's by default")

    @model_validator(mode="after")
    def in_order(self):
        if self.installed_on is not None and self.installed_on < self.removed_on:
            raise ValueError("installed_on must not be before removed_on")
        start = self.installed_on or self.removed_on
        if self.verification_due is not None and self.verification_due < start:
            raise ValueError("verification_due must not be before the new meter's installation")
        return self


class MeterReplacement(BaseModel):
    old: MeterDetail
    new: MeterDetail


class SensorCreate(Placement):
    serial: Serial
    kind: SensorKind
    installed_on: RegisterDay


class SensorRead(ReadModel):
    id: int
    serial: str
    kind: SensorKind
    building_id: int
    apartment_id: int | None
    installed_on: date
    removed_on: date | None


class ReadingSubmit(InputModel):
    value: RegisterValue = Field(description="The register as read, in the meter's unit")


class StaffReadingCreate(InputModel):
    taken_at: AwareMoment = Field(
        description="When the register showed this value, with its zone (e.g. 2026-10-31T18:00:00+05:00);"
        " not in the future, not before the meter was installed"
    )
    value: RegisterValue = Field(description="The register as read, in the meter's unit")
    reason: Reason = Field(description="Why staff enter it, e.g. 'paper reading by the technician'")

    @field_validator("taken_at")
    @classmethod
    def in_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # year 1 east of UTC, year 9999 west of it
            raise ValueError("taken_at is out of range") from exc

    @field_validator("reason")
    @classmethod
    def printable(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 3:
            raise ValueError("give a reason of at least 3 characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("the reason may not contain control characters")
        return value


class StaffReadingRead(ReadModel):
    reason: str
    user_id: int
    created_at: datetime


class CorrectionCreate(InputModel):
    value: RegisterValue = Field(description="The right value of the reading")
    reason: Reason


class CorrectionRead(ReadModel):
    id: int
    meter_id: int
    taken_at: datetime
    value: Decimal
    reason: str
    user_id: int
    created_at: datetime


class ReviewCreate(InputModel):
    verdict: BackwardsVerdict = Field(
        description="rollover or replacement: the reading counts from now on; error: it stays excluded"
    )
    reason: str = Field("", max_length=500)


class ReviewRead(ReadModel):
    id: int
    meter_id: int
    taken_at: datetime
    verdict: BackwardsVerdict
    reason: str
    user_id: int
    created_at: datetime


class ReadingRead(BaseModel):
    meter_id: int
    taken_at: datetime
    value: Decimal = Field(description="As read; never changed")
    source: ReadingSource
    received_at: datetime
    effective_value: Decimal = Field(description="The newest correction's value, else the value read")
    correction: CorrectionRead | None = Field(None, description="The newest correction, if any")
    backwards: bool = Field(description="Lower than the latest preceding reading that counts")
    review: ReviewRead | None = None
    entry: StaffReadingRead | None = Field(
        None, description="A staff reading's author and reason (source staff)"
    )
    counts: bool = Field(
        description="Used for consumption: not backwards, or confirmed as rollover/replacement"
    )


class AlertRead(BaseModel):
    id: int
    meter_id: int
    serial: str
    building_id: int
    apartment_id: int | None
    kind: AlertKind
    opened_at: datetime
    closed_at: datetime | None
    detail: str


class RejectedMessageRead(BaseModel):
    id: int
    topic: str
    payload: str = Field(description="As received, undecodable bytes replaced")
    reason: str
    received_at: datetime


class MeterImportReport(BaseModel):
    meters: int
    sensors: int
