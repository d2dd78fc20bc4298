"""JSON routes of services and tariffs: admins write; everyone signed in reads what concerns them.

Officials and admins read every tariff; company staff the city-wide ones and their own
company's; residents the city-wide ones and those of the companies managing their homes.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import Session, select

from billing.models import Basis, Service, Tariff
from billing.tariffs import queries, service
from billing.tariffs.pricing import SeasonalNorm, Tier
from billing.tariffs.queries import VisibleTariff
from billing.tariffs.schemas import (
    BuildingFeeRead,
    SeasonalNormRead,
    ServiceCreate,
    ServiceRead,
    TariffCreate,
    TariffEnd,
    TariffRead,
    TierRead,
    to_minor,
    to_uzs,
)
from housing import actors
from housing.auth import CurrentActor, get_actor, require_roles
from housing.db import SessionDep, get_or_404
from housing.deps import Today
from housing.registry.periods import in_force
from housing.registry.queries import VisibleBuilding
from housing.routing import Paging, paginate
from housing.schemas import API_PROBLEMS, Page
from housing.validation import Day, Id

router = APIRouter(tags=["billing"], responses=API_PROBLEMS)


def _reads(session: Session, tariffs: Sequence[Tariff]) -> list[TariffRead]:
    tiers, norms = service.tariff_parts(session, [t.id for t in tariffs])
    return [
        TariffRead.model_validate(tariff).model_copy(
            update={
                "tiers": [
                    TierRead(
                        position=tier.position,
                        up_to=tier.up_to,
                        price=to_uzs(tier.price_minor),
                        price_minor=tier.price_minor,
                    )
                    for tier in tiers[tariff.id]
                ],
                "seasonal_norms": [
                    SeasonalNormRead(months=service.parse_months(norm.months), up_to=norm.up_to)
                    for norm in norms[tariff.id]
                ],
            }
        )
        for tariff in tariffs
    ]


# Services


ADMINS_ONLY = [Depends(require_roles(actors.ADMINS))]


@router.get("/services", response_model=Page[ServiceRead], dependencies=[Depends(get_actor)])
def list_services(session: SessionDep, paging: Paging):
    return paginate(session, select(Service), paging, Service.code)


@router.post(
    "/services", response_model=ServiceRead, status_code=status.HTTP_201_CREATED, dependencies=ADMINS_ONLY
)
def create_service(body: ServiceCreate, session: SessionDep):
    return service.create_service(session, **body.model_dump())


# Tariffs


@router.get("/tariffs", response_model=Page[TariffRead])
def list_tariffs(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    service_id: Annotated[Id | None, Query()] = None,
    company_id: Annotated[Id | None, Query(description="That company's own tariffs")] = None,
    city_wide: Annotated[
        bool | None, Query(description="Only the city-wide (true) or company (false) ones")
    ] = None,
    basis: Annotated[Basis | None, Query()] = None,
    on: Annotated[Day | None, Query(description="In force on this day")] = None,
):
    query = queries.visible_tariffs(actor, today)
    if service_id is not None:
        query = query.where(Tariff.service_id == service_id)
    if company_id is not None:
        query = query.where(Tariff.company_id == company_id)
    if city_wide is not None:
        query = query.where(Tariff.company_id.is_(None) if city_wide else Tariff.company_id.is_not(None))
    if basis is not None:
        query = query.where(Tariff.basis == basis)
    if on is not None:
        query = query.where(in_force(Tariff, on))
    page = paginate(session, query, paging, Tariff.id)
    page["items"] = _reads(session, page["items"])
    return page


@router.get("/tariffs/{tariff_id}", response_model=TariffRead)
def read_tariff(tariff: VisibleTariff, session: SessionDep):
    return _reads(session, [tariff])[0]


@router.post(
    "/tariffs", response_model=TariffRead, status_code=status.HTTP_201_CREATED, dependencies=ADMINS_ONLY
)
def create_tariff(body: TariffCreate, session: SessionDep):
    """Prices are UZS per unit as decimal strings ("49019.60"); they are kept as tiyin (x 100)."""
    tariff = service.create_tariff(
        session,
        service_id=body.service_id,
        company_id=body.company_id,
        basis=body.basis,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        tiers=[Tier(up_to=tier.up_to, price_minor=to_minor(tier.price)) for tier in body.tiers],
        seasonal_norms=[SeasonalNorm(months=frozenset(n.months), up_to=n.up_to) for n in body.seasonal_norms],
        note=body.note,
    )
    return _reads(session, [tariff])[0]


@router.post("/tariffs/{tariff_id}/end", response_model=TariffRead, dependencies=ADMINS_ONLY)
def end_tariff(tariff_id: Id, body: TariffEnd, session: SessionDep):
    """Ends a tariff on a date (its first day out of force); a new tariff takes over from then."""
    tariff = get_or_404(session, Tariff, tariff_id, "tariff")
    tariff = service.end_tariff(session, tariff, body.valid_until)
    return _reads(session, [tariff])[0]


@router.get("/buildings/{building_id}/management-fees", response_model=list[BuildingFeeRead])
def building_management_fees(session: SessionDep, building: VisibleBuilding):
    """The building's own management fees decided by its owners, oldest first: each is the
    per-m2 price of the management service on its days, above the company's and the city's
    tariffs (docs/tariffs.md, "A building's decided fee"). Whoever sees the building reads them."""
    fees = service.building_fee_windows(session, [building.id]).get(building.id, [])
    return [
        BuildingFeeRead(
            decision_id=fee.decision_id,
            company_id=fee.company_id,
            valid_from=fee.valid_from,
            valid_until=fee.valid_until,
            price=to_uzs(Decimal(fee.fee_minor)),
            price_minor=fee.fee_minor,
        )
        for fee in fees
    ]
