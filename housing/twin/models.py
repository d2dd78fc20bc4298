"""The twin's stored read model: each building's current grade, and when grades changed.

Grades are made by the `grade-buildings` job once a day (housing/twin/jobs.py), so the
city map colours 44,000 buildings from one indexed table instead of recomputing six
components for each on every request. The live parts of a building view (alerts,
incidents, requests) are read as they are, not from here.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field
from housing.twin.grading import Grade


class BuildingGrade(SQLModel, table=True):
    """A building's grade as of its last grading, with every component and its inputs."""

    __tablename__ = "building_grade"

    building_id: int = Field(foreign_key="building.id", primary_key=True)
    grade: Grade = Field(sa_type=String(10), index=True)
    # [Component.as_json(), ...] in grading.COMPONENTS order
    components: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    graded_on: date = Field(description="The city day this grade is as of")
    graded_at: datetime = Field(sa_type=UTCDateTime)
    since: date = Field(description="The day the building got this grade")


class GradeChange(SQLModel, table=True):
    """A building changing grade: officials list the week's changes."""

    __tablename__ = "building_grade_change"
    __table_args__ = (Index(None, "changed_on", "building_id"),)

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    changed_on: date
    previous: Grade | None = Field(default=None, sa_type=String(10), description="None: its first grade")
    grade: Grade = Field(sa_type=String(10))
    created_at: datetime = created_at_field()
