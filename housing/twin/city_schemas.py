"""Read models of the twin's city API: buildings by grade, the week's changes, cold now."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from housing.twin.city import ChangeRow, ColdBuilding, GradeCounts
from housing.twin.grading import Grade


class GradeCountsRead(BaseModel):
    district_id: int | None = Field(description="None: the whole city")
    district: str
    green: int
    yellow: int
    red: int
    ungraded: int = Field(description="Buildings the nightly job has not graded yet")
    total: int

    @classmethod
    def of(cls, c: GradeCounts) -> "GradeCountsRead":
        return cls(
            district_id=c.district_id,
            district=c.district,
            green=c.green,
            yellow=c.yellow,
            red=c.red,
            ungraded=c.ungraded,
            total=c.total,
        )


class GradeChangeRead(BaseModel):
    building_id: int
    address: str
    district: str
    company: str | None = Field(description="The company managing the building today")
    changed_on: date
    previous: Grade | None
    grade: Grade

    @classmethod
    def of(cls, c: ChangeRow) -> "GradeChangeRead":
        return cls(
            building_id=c.building_id,
            address=c.address,
            district=c.district,
            company=c.company,
            changed_on=c.changed_on,
            previous=c.previous,
            grade=c.grade,
        )


class GradeChanges(BaseModel):
    items: list[GradeChangeRead]
    total: int
    limit: int
    offset: int


class CityGradesRead(BaseModel):
    company_id: int | None
    graded_on: date | None = Field(description="The newest day buildings were graded as of")
    districts: list[GradeCountsRead]
    city: GradeCountsRead
    changes: GradeChanges = Field(
        description="Changes of grade in the last 7 days, newest first (a building's first grade is none)"
    )


class ColdBuildingRead(BaseModel):
    building_id: int
    address: str
    district: str
    company: str | None
    flats: int = Field(description="Apartments cold now")
    since: datetime = Field(description="When the longest-cold flat went below the norm")
    hours: float = Field(description="How long that is, up to now")
    deepest_shortfall_c: Decimal | None = Field(description="The worst shortfall below the norm, degrees C")

    @classmethod
    def of(cls, b: ColdBuilding) -> "ColdBuildingRead":
        return cls(
            building_id=b.building_id,
            address=b.address,
            district=b.district,
            company=b.company,
            flats=b.flats,
            since=b.since,
            hours=b.hours,
            deepest_shortfall_c=b.deepest,
        )


class ColdNowRead(BaseModel):
    heating_season: bool = Field(
        description="Out of the season no flat is counted as cold and the list is empty"
    )
    season: str = Field(description="MM-DD..MM-DD")
    norm_c: float
    buildings: list[ColdBuildingRead] = Field(description="The most cold flats first, then the longest cold")
