"""Service incidents. An open incident has no end; sensors open and close them, staff plan them."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Index, String, text
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field


class Utility(StrEnum):
    hot_water = "hot_water"
    heating = "heating"
    cold_water = "cold_water"
    electricity = "electricity"
    gas = "gas"
    lift = "lift"


class IncidentSource(StrEnum):
    sensor = "sensor"
    planned = "planned"
    report = "report"


class ServiceIncident(SQLModel, table=True):
    __tablename__ = "service_incident"
    __table_args__ = (
        Index(None, "building_id", "started_at"),
        # One open incident per building, service and origin: a sensor re-reporting the
        # same cold riser extends it instead of opening a second one.
        Index(
            "uq_service_incident_open",
            "building_id",
            "utility",
            "origin",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id")
    apartment_id: int | None = Field(default=None, foreign_key="apartment.id")
    utility: Utility = Field(sa_type=String(20))
    source: IncidentSource = Field(sa_type=String(10))
    origin: str = Field(max_length=100, description="What raised it, e.g. sensor:HWT-0001 or a user id")
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deviation: Decimal | None = Field(
        default=None,
        max_digits=8,
        decimal_places=2,
        description="Worst shortfall below the norm, e.g. degrees C",
    )
    detail: str = Field(default="", max_length=500)
    created_at: datetime = created_at_field()
