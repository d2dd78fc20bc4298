"""The billed services and Tashkent's city-wide tariffs from 1 May 2025 (DESIGN.md), seeded once.

Running it again adds nothing; a tariff an admin already set up over those dates is kept.
The prices and the assumptions behind them are in docs/tariffs.md.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import select

from billing.models import Basis, Service, Tariff
from billing.tariffs import service
from billing.tariffs.pricing import SeasonalNorm, Tier
from housing.db import session_scope
from housing.errors import Conflict
from housing.incidents.models import Utility
from sensors.models import MeterKind

TARIFFS_FROM = date(2025, 5, 1)
WINTER = frozenset({11, 12, 1, 2})


@dataclass(frozen=True)
class _Service:
    code: str
    name: str
    unit: str
    meter_kind: MeterKind | None = None
    utility: Utility | None = None


@dataclass(frozen=True)
class _Tariff:
    service: str
    basis: Basis
    tiers: tuple[tuple[str | None, str], ...]  # (monthly bound, UZS per unit)
    norms: tuple[SeasonalNorm, ...] = ()
    note: str = ""


SERVICES = (
    _Service("electricity", "Electricity", "kWh", MeterKind.electricity, Utility.electricity),
    _Service("gas", "Natural gas", "m3", MeterKind.gas, Utility.gas),
    _Service("cold_water", "Cold water and sewerage", "m3", MeterKind.cold_water, Utility.cold_water),
    _Service("hot_water", "Hot water", "m3", MeterKind.hot_water, Utility.hot_water),
    _Service("heating", "Central heating", "Gcal", MeterKind.heat, Utility.heating),
    _Service("waste", "Waste removal", "person"),
    _Service("management", "Building management", "m2"),
)

TASHKENT_2025 = (
    _Tariff(
        "electricity",
        Basis.per_unit,
        (("200", "600"), ("500", "800"), (None, "1000")),
        note="Tashkent from 1 May 2025; above 1,000 kWh assumed at 1,000 UZS",
    ),
    _Tariff(
        "gas",
        Basis.per_unit,
        (("100", "1000"), (None, "1800")),
        norms=(SeasonalNorm(months=WINTER, up_to=Decimal(500)),),
        note="Tashkent from 1 May 2025; social norm 100 m3 (Mar-Oct), 500 m3 (Nov-Feb)",
    ),
    _Tariff("cold_water", Basis.per_unit, ((None, "3808"),), note="Tashkent from 1 May 2025, by meter"),
    _Tariff(
        "cold_water",
        Basis.per_person,
        ((None, "49019.60"),),
        note="Tashkent from 1 May 2025, per registered person without a meter",
    ),
    _Tariff("waste", Basis.per_person, ((None, "7500"),), note="Tashkent from 1 May 2025"),
    _Tariff("management", Basis.per_m2, ((None, "1823"),), note="Tashkent average per m2, city-wide default"),
    _Tariff("hot_water", Basis.per_unit, ((None, "9000"),), note="ASSUMPTION: plausible figure, by meter"),
    _Tariff(
        "hot_water",
        Basis.per_person,
        ((None, "60000"),),
        note="ASSUMPTION: plausible figure, per registered person without a meter",
    ),
    _Tariff(
        "heating",
        Basis.per_unit,
        ((None, "91960"),),
        note="ASSUMPTION: population tariff per Gcal of the building's heat meter",
    ),
)


def seed_tashkent_tariffs(engine: Engine) -> str:
    """Adds the missing services and Tashkent tariffs; a summary line."""
    services_added = tariffs_added = kept = 0
    with session_scope(engine) as session:
        codes = {s.code: s for s in session.exec(select(Service))}
        for spec in SERVICES:
            if spec.code not in codes:
                codes[spec.code] = service.create_service(
                    session,
                    code=spec.code,
                    name=spec.name,
                    unit=spec.unit,
                    meter_kind=spec.meter_kind,
                    utility=spec.utility,
                )
                services_added += 1
        for spec in TASHKENT_2025:
            service_id = codes[spec.service].id
            seeded = session.exec(
                select(Tariff.id).where(
                    Tariff.service_id == service_id,
                    Tariff.company_id.is_(None),
                    Tariff.basis == spec.basis,
                    Tariff.valid_from == TARIFFS_FROM,
                )
            ).first()
            if seeded is not None:
                continue
            try:
                service.create_tariff(
                    session,
                    service_id=service_id,
                    basis=spec.basis,
                    valid_from=TARIFFS_FROM,
                    tiers=[
                        Tier(
                            up_to=None if up_to is None else Decimal(up_to), price_minor=Decimal(price) * 100
                        )
                        for up_to, price in spec.tiers
                    ],
                    seasonal_norms=spec.norms,
                    note=spec.note,
                )
            except Conflict:  # an admin's tariff already covers these dates: theirs stands
                kept += 1
                continue
            tariffs_added += 1
    summary = f"Tashkent tariffs: {services_added} services and {tariffs_added} tariffs added"
    return summary + (f", {kept} kept as an admin set them" if kept else "")
