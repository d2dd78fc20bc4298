"""Registry tables. Periods are half-open: valid_from inclusive, valid_until exclusive."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint, true
from sqlmodel import Field, SQLModel

from housing.db import created_at_field, updated_at_field


class District(SQLModel, table=True):
    __tablename__ = "district"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    city: str = Field(default="Tashkent", max_length=100)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ManagementCompany(SQLModel, table=True):
    __tablename__ = "management_company"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    tax_id: str = Field(max_length=9, unique=True, description="INN, 9 digits")
    district_id: int | None = Field(default=None, foreign_key="district.id", index=True)
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=200)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Building(SQLModel, table=True):
    __tablename__ = "building"
    __table_args__ = (
        UniqueConstraint("district_id", "address"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("floors > 0", name="floors_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=300)
    district_id: int = Field(foreign_key="district.id", index=True)
    latitude: float
    longitude: float
    year_built: int | None = None
    floors: int
    total_area_m2: Decimal | None = Field(default=None, max_digits=12, decimal_places=2)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class BuildingManagement(SQLModel, table=True):
    """Which company managed a building when; the open period is the current one."""

    __tablename__ = "building_management"
    __table_args__ = (
        UniqueConstraint("building_id", "valid_from"),
        Index(None, "company_id", "valid_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    company_id: int = Field(foreign_key="management_company.id")
    valid_from: date
    valid_until: date | None = None
    created_at: datetime = created_at_field()


class Apartment(SQLModel, table=True):
    __tablename__ = "apartment"
    __table_args__ = (
        UniqueConstraint("building_id", "number"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
        CheckConstraint("registered_residents >= 0", name="residents_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    number: str = Field(max_length=20)
    entrance: int | None = None
    floor: int | None = None
    area_m2: Decimal = Field(max_digits=8, decimal_places=2)
    rooms: int | None = None
    # The official registration count that norms are billed by; people who also log
    # in for this apartment are linked through Residence.
    registered_residents: int = 0
    # Non-residential premises (a shop, an office) bill like the rest and carry their area's
    # votes in owners' meetings: all votes of a building are the area of all its premises.
    residential: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    account_number: str = Field(max_length=20, unique=True, description="Personal account number")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PersonKind(StrEnum):
    individual = "individual"
    organisation = "organisation"  # a firm, a state body: identified by its tax id


class Person(SQLModel, table=True):
    """Whoever owns or lives: an individual (pinfl) or an organisation (tax id, "INN")."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    full_name: str = Field(max_length=200)
    kind: PersonKind = Field(
        default=PersonKind.individual, sa_type=String(12), sa_column_kwargs={"server_default": "individual"}
    )
    tax_id: str | None = Field(
        default=None, max_length=9, unique=True, description="An organisation's, 9 digits"
    )
    pinfl: str | None = Field(default=None, max_length=14, unique=True, description="Personal id, 14 digits")
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=200)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Ownership(SQLModel, table=True):
    """A person's share of an apartment as an exact fraction, over a period."""

    __tablename__ = "ownership"
    __table_args__ = (
        CheckConstraint(
            "share_numerator > 0 AND share_numerator <= share_denominator", name="share_fraction"
        ),
        Index(None, "person_id", "apartment_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    apartment_id: int = Field(foreign_key="apartment.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    share_numerator: int
    share_denominator: int
    valid_from: date
    valid_until: date | None = None
    created_at: datetime = created_at_field()


class Residence(SQLModel, table=True):
    """A person registered as living in an apartment (owner or tenant)."""

    __tablename__ = "residence"
    __table_args__ = (Index(None, "person_id", "apartment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    apartment_id: int = Field(foreign_key="apartment.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    valid_from: date
    valid_until: date | None = None
    created_at: datetime = created_at_field()
