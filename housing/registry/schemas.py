"""API models of the register: XCreate, XUpdate, XRead."""

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

from housing.registry.models import PersonKind
from housing.schemas import ReadModel
from housing.validation import Id, InputModel, RegisterDay

TaxId = Annotated[str, Field(pattern=r"^\d{9}$", description="INN: 9 digits")]
Pinfl = Annotated[str, Field(pattern=r"^\d{14}$", description="PINFL: 14 digits")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Area = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
AccountNumber = Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{4,20}$")]
Phone = Annotated[str, Field(max_length=30, pattern=r"^\+?[0-9 ()-]{5,30}$")]
Email = Annotated[str, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def parse_share(value: str | Fraction) -> Fraction:
    """'1/2', '0.5' or '1' -> an exact fraction in (0, 1]."""
    try:
        share = Fraction(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"share {value!r} is not a fraction like 1/2") from exc
    if not 0 < share <= 1:
        raise ValueError(f"share {value} must be more than 0 and at most 1")
    return share


class Period(InputModel):
    valid_from: RegisterDay
    valid_until: RegisterDay | None = None

    @model_validator(mode="after")
    def ends_after_start(self):
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class DistrictCreate(InputModel):
    name: str = Field(min_length=2, max_length=100)
    city: str = Field("Tashkent", min_length=2, max_length=100)


class DistrictUpdate(InputModel):
    name: str | None = Field(None, min_length=2, max_length=100)
    city: str | None = Field(None, min_length=2, max_length=100)


class DistrictRead(ReadModel):
    id: int
    name: str
    city: str


class CompanyCreate(InputModel):
    name: str = Field(min_length=2, max_length=200)
    tax_id: TaxId
    district_id: Id | None = None
    phone: Phone | None = None
    email: Email | None = None


class CompanyUpdate(InputModel):
    name: str | None = Field(None, min_length=2, max_length=200)
    district_id: Id | None = None
    phone: Phone | None = None
    email: Email | None = None


class CompanyRead(ReadModel):
    id: int
    name: str
    tax_id: str
    district_id: int | None
    phone: str | None
    email: str | None


class BuildingFields(InputModel):
    latitude: Latitude
    longitude: Longitude
    year_built: int | None = Field(None, ge=1800, le=2100)
    floors: int = Field(ge=1, le=200)
    total_area_m2: Area | None = None


class BuildingCreate(BuildingFields):
    address: str = Field(min_length=3, max_length=300)
    district_id: Id
    company_id: Id | None = Field(
        None, description="Managing company; a manager's own company when a manager creates it"
    )
    managed_from: RegisterDay | None = Field(None, description="Start of management; today by default")


class BuildingUpdate(InputModel):
    address: str | None = Field(None, min_length=3, max_length=300)
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    year_built: int | None = Field(None, ge=1800, le=2100)
    floors: int | None = Field(None, ge=1, le=200)
    total_area_m2: Area | None = None


class BuildingRead(ReadModel):
    id: int
    address: str
    district_id: int
    latitude: float
    longitude: float
    year_built: int | None
    floors: int
    total_area_m2: Decimal | None
    company_id: int | None = Field(None, description="Company managing it today")


class ManagementChange(InputModel):
    company_id: Id
    valid_from: RegisterDay


class ManagementRead(ReadModel):
    company_id: int
    valid_from: date
    valid_until: date | None


class ApartmentCreate(InputModel):
    building_id: Id
    number: str = Field(min_length=1, max_length=20)
    entrance: int | None = Field(None, ge=1, le=100)
    floor: int | None = Field(None, ge=-5, le=200)
    area_m2: Area
    rooms: int | None = Field(None, ge=1, le=50)
    registered_residents: int = Field(0, ge=0, le=100)
    residential: bool = Field(True, description="False for non-residential premises (a shop, an office)")
    account_number: AccountNumber


class ApartmentUpdate(InputModel):
    number: str | None = Field(None, min_length=1, max_length=20)
    entrance: int | None = Field(None, ge=1, le=100)
    floor: int | None = Field(None, ge=-5, le=200)
    area_m2: Area | None = None
    rooms: int | None = Field(None, ge=1, le=50)
    registered_residents: int | None = Field(None, ge=0, le=100)
    residential: bool | None = None


class ApartmentRead(ReadModel):
    id: int
    building_id: int
    number: str
    entrance: int | None
    floor: int | None
    area_m2: Decimal
    rooms: int | None
    registered_residents: int
    residential: bool
    account_number: str


class PersonCreate(InputModel):
    full_name: str = Field(min_length=2, max_length=200)
    kind: PersonKind = Field(
        PersonKind.individual,
        description="An organisation needs a tax id and pays the organisations' penalty rate",
    )
    tax_id: TaxId | None = Field(None, description="An organisation's INN, 9 digits; an individual has none")
    pinfl: Pinfl | None = None
    phone: Phone | None = None
    email: Email | None = None


class PersonUpdate(InputModel):
    full_name: str | None = Field(None, min_length=2, max_length=200)
    kind: PersonKind | None = None
    tax_id: TaxId | None = None
    phone: Phone | None = None
    email: Email | None = None


class PersonRead(ReadModel):
    id: int
    full_name: str
    kind: PersonKind
    tax_id: str | None
    pinfl: str | None
    phone: str | None
    email: str | None


class OwnershipCreate(Period):
    apartment_id: Id
    person_id: Id
    share: Fraction = Field(description="The owner's fraction of the apartment, e.g. '1/2'")

    @field_validator("share", mode="before")
    @classmethod
    def _share(cls, value: object) -> Fraction:
        return parse_share(str(value))


class OwnershipRead(ReadModel):
    id: int
    apartment_id: int
    person_id: int
    share: str
    valid_from: date
    valid_until: date | None

    @model_validator(mode="before")
    @classmethod
    def _fraction(cls, obj: object) -> object:
        if hasattr(obj, "share_numerator"):
            return {
                "id": obj.id,
                "apartment_id": obj.apartment_id,
                "person_id": obj.person_id,
                "share": f"{obj.share_numerator}/{obj.share_denominator}",
                "valid_from": obj.valid_from,
                "valid_until": obj.valid_until,
            }
        return obj


class PeriodEnd(InputModel):
    valid_until: RegisterDay


class ResidenceCreate(Period):
    apartment_id: Id
    person_id: Id


class ResidenceRead(ReadModel):
    id: int
    apartment_id: int
    person_id: int
    valid_from: date
    valid_until: date | None


class ImportReport(BaseModel):
    buildings: int
    apartments: int
    people: int
    ownerships: int
