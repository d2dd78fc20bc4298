"""API models of billing: XCreate, XRead.

Prices travel as decimal strings of UZS per unit ("600", "49019.60", at most four
decimals) and are stored as tiyin per unit (price x 100, which may keep fractions of a
tiyin: "49019.60" -> 4901960). Reads give both `price` (UZS, at least two decimals) and
`price_minor` (tiyin). Tier bounds and norms are monthly quantities in the service's unit.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from billing.models import Basis
from housing.incidents.models import Utility
from housing.schemas import ReadModel
from housing.validation import Day, Id, InputModel, Int32
from sensors.models import MeterKind

MINOR_PER_UNIT = 100  # tiyin in a sum

Price = Annotated[
    Decimal,
    Field(max_digits=16, decimal_places=4, description='UZS per unit as a decimal string, "49019.60"'),
]
Quantity = Annotated[Decimal, Field(max_digits=14, decimal_places=3)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,29}$", description="e.g. cold_water")]


def to_minor(price: Decimal) -> Decimal:
    return price * MINOR_PER_UNIT


def to_uzs(price_minor: Decimal) -> Decimal:
    """4901960 tiyin -> 49019.60 UZS; whole sums keep two decimals (600.00)."""
    uzs = (Decimal(price_minor) / MINOR_PER_UNIT).normalize()
    return uzs.quantize(Decimal("0.01")) if uzs.as_tuple().exponent > -2 else uzs


class ServiceCreate(InputModel):
    code: Code
    name: str = Field(min_length=2, max_length=100)
    unit: str = Field(min_length=1, max_length=10, description="kWh, m3, Gcal, m2, person, month")
    meter_kind: MeterKind | None = Field(None, description="The meters whose consumption it bills")
    utility: Utility | None = Field(None, description="The service incidents that reduce its charge")


class ServiceRead(ReadModel):
    id: int
    code: str
    name: str
    unit: str
    meter_kind: MeterKind | None
    utility: Utility | None


class TierIn(InputModel):
    up_to: Quantity | None = Field(None, description="Monthly bound of the tier; none for the last one")
    price: Price


class SeasonalNormIn(InputModel):
    months: list[Int32] = Field(min_length=1, max_length=12, description="Calendar months 1-12")
    up_to: Quantity = Field(description="The first tier's bound in these months")


class TariffCreate(InputModel):
    service_id: Id
    company_id: Id | None = Field(None, description="A company's own tariff; none for the city-wide one")
    basis: Basis
    valid_from: Day
    valid_until: Day | None = Field(None, description="The first day it no longer applies; none: open")
    tiers: list[TierIn] = Field(min_length=1, max_length=20)
    seasonal_norms: list[SeasonalNormIn] = Field(default_factory=list, max_length=12)
    note: str = Field("", max_length=300)


class TariffEnd(InputModel):
    valid_until: Day = Field(description="The first day it no longer applies")


class TierRead(BaseModel):
    position: int
    up_to: Decimal | None
    price: Decimal
    price_minor: Decimal


class SeasonalNormRead(BaseModel):
    months: list[int]
    up_to: Decimal


class TariffRead(ReadModel):
    id: int
    service_id: int
    company_id: int | None
    basis: Basis
    valid_from: date
    valid_until: date | None
    currency: str
    note: str
    tiers: list[TierRead] = []
    seasonal_norms: list[SeasonalNormRead] = []


class BuildingFeeRead(ReadModel):
    """A building's decided management fee (an owners' management_fee decision) as billing applies it."""

    decision_id: int = Field(description="The owners' decision (building_decision) it comes from")
    company_id: int = Field(
        description="The company whose invoices it prices: the one managing on its first day"
    )
    valid_from: date
    valid_until: date | None = Field(
        description="Ended by a later fee decision or by the building's handover to another company"
    )
    price: Decimal = Field(description="UZS per m2 a month")
    price_minor: int = Field(description="Tiyin per m2 a month")
