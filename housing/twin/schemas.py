"""API models of the building view's state (`GET /api/v1/buildings/{id}/state`)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from housing.incidents.schemas import IncidentDuration
from housing.requests.models import RequestStatus
from housing.schemas import ReadModel
from housing.twin.grading import Grade
from sensors.models import AlertKind, SensorKind


class CellRead(ReadModel):
    apartment_id: int
    number: str
    marks: list[str] = Field(
        description="leak, backwards, cold, silent; for staff and officials also request and debt"
    )
    home: bool = Field(description="The resident's own apartment")


class FloorRead(ReadModel):
    floor: int
    cells: list[CellRead]


class EntranceRead(ReadModel):
    entrance: int
    floors: list[FloorRead] = Field(description="Top floor first")


class GridRead(ReadModel):
    entrances: list[EntranceRead]
    unplaced: list[CellRead] = Field(description="Apartments registered without an entrance or a floor")
    counts: dict[str, int] = Field(description="mark -> apartments bearing it")
    apartments: int


class HourRead(ReadModel):
    start: datetime
    mean: Decimal
    low: Decimal
    high: Decimal
    count: int = Field(description="Measurements in the hour")


class TemperaturesRead(ReadModel):
    kind: SensorKind
    sensors: int = Field(description="Sensors of this kind in the building")
    norm: Decimal = Field(description="The norm the chart draws (hot water at the tap, living rooms)")
    latest: HourRead | None
    hours: list[HourRead] = Field(description="The last 24 hours, hours without measurements left out")


class HeatMeterRead(ReadModel):
    meter_id: int
    serial: str
    unit: str
    value: Decimal | None
    read_at: datetime | None
    today: Decimal | None = Field(description="Consumed since local midnight; null: too few readings")
    this_month: Decimal | None


class OpenRequestRead(ReadModel):
    id: int
    category: str
    apartment: str | None = Field(description="The apartment's number; null: the common parts")
    status: RequestStatus
    emergency: bool
    deadline_at: datetime
    overdue: bool


class CommonAlertRead(ReadModel):
    serial: str
    kind: AlertKind
    opened_at: datetime


class ComponentRead(ReadModel):
    name: str
    value: float | None
    inputs: dict[str, Any]
    grade: Grade | None


class GradeRead(ReadModel):
    grade: Grade
    graded_on: date
    graded_at: datetime
    since: date
    components: list[ComponentRead]


class BuildingStateRead(ReadModel):
    building_id: int
    address: str
    floors: int
    read_at: datetime
    full: bool = Field(description="The full view (staff, officials); false: a resident's common view")
    grid: GridRead
    hot_water: TemperaturesRead
    indoor: TemperaturesRead
    heat_meters: list[HeatMeterRead]
    interruptions: list[IncidentDuration] = Field(description="Incidents and planned outages not over yet")
    requests: list[OpenRequestRead] = Field(description="Open requests, nearest deadline first")
    common_alerts: list[CommonAlertRead] = Field(description="Open alerts of the building's common meters")
    cold_flats: int
    grade: GradeRead | None = Field(description="null: not graded yet")
    debts_minor: int | None = Field(
        description="Full view: what the apartments past due owe in all; null otherwise"
    )
