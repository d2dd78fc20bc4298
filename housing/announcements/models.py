"""Announcement tables: the announcement, its text per language, its targets, who has read it.

An announcement reaches either buildings (and, in them, some entrances: `AnnouncementTarget`
rows) or a whole district or the city (`district_id`, None for the city, with no targets).
Its text is stored as typed, one row per language it was written in, and escaped where shown.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from housing.db import UTCDateTime, created_at_field


class Reach(StrEnum):
    buildings = "buildings"  # a company's buildings, or some of their entrances
    district = "district"
    city = "city"


class Announcement(SQLModel, table=True):
    __tablename__ = "announcement"
    __table_args__ = (Index(None, "created_at", "id"), Index(None, "company_id", "created_at"))

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="user_account.id")
    company_id: int | None = Field(
        default=None, foreign_key="management_company.id", description="The posting staff's company"
    )
    reach: Reach = Field(sa_type=String(10))
    district_id: int | None = Field(default=None, foreign_key="district.id")
    urgent: bool = False
    pinned_until: date | None = Field(default=None, description="Shown first up to this day (city time)")
    recipients: int = Field(default=0, description="Resident accounts notified when it was posted")
    attachment_file: str | None = Field(default=None, max_length=100, unique=True)
    attachment_type: str | None = Field(default=None, max_length=50)
    attachment_bytes: int | None = None
    created_at: datetime = created_at_field()


class AnnouncementText(SQLModel, table=True):
    """The title and text in one language (uz, ru or en)."""

    __tablename__ = "announcement_text"
    __table_args__ = (UniqueConstraint("announcement_id", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id")
    language: str = Field(max_length=5)
    title: str = Field(max_length=200)
    body: str = Field(max_length=5000)


class AnnouncementTarget(SQLModel, table=True):
    """A building the announcement goes to; with `entrance`, only that entrance of it."""

    __tablename__ = "announcement_target"
    __table_args__ = (
        UniqueConstraint("announcement_id", "building_id", "entrance"),
        Index(None, "building_id", "announcement_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id")
    building_id: int = Field(foreign_key="building.id")
    entrance: int | None = None


class AnnouncementRead(SQLModel, table=True):
    """A resident opened the announcement (first time only): what staff's read counts count."""

    __tablename__ = "announcement_read"
    __table_args__ = (UniqueConstraint("announcement_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id")
    user_id: int = Field(foreign_key="user_account.id", index=True)
    read_at: datetime = Field(sa_type=UTCDateTime)
