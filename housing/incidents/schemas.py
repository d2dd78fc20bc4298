"""API models of incidents and planned outages."""

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal

from pydantic import Field, model_validator

from housing.incidents.allowances import interruption
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.schemas import ReadModel
from housing.settings import OutageSettings
from housing.validation import AwareMoment, Id, InputModel


class OutageCreate(InputModel):
    building_id: Id
    utility: Utility
    starts_at: AwareMoment
    ends_at: AwareMoment
    detail: str = Field("", max_length=500, description="What the residents are told, e.g. the reason")

    @model_validator(mode="after")
    def ends_after_start(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class IncidentRead(ReadModel):
    id: int
    building_id: int
    apartment_id: int | None
    utility: Utility
    source: IncidentSource
    started_at: datetime
    ended_at: datetime | None
    deviation: Decimal | None
    detail: str


class IncidentDuration(IncidentRead):
    ongoing: bool = Field(description="Not ended yet; the duration runs to now")
    duration_hours: float
    allowed_hours: float = Field(description="The longest interruption tolerated for this service")
    over_allowance: bool

    @classmethod
    def of(cls, incident: ServiceIncident, now: datetime, outages: OutageSettings) -> "IncidentDuration":
        """The incident with its time by `now` against its allowance (`allowances.interruption`)."""
        measured = interruption(
            Utility(incident.utility),
            IncidentSource(incident.source),
            incident.started_at,
            incident.ended_at,
            now,
            outages,
        )
        return cls.model_validate({**IncidentRead.model_validate(incident).model_dump(), **asdict(measured)})
