"""JSON routes of the register: load within the actor's scope, one service call, return."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import Session, select

from housing import actors
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor, RegistrarActor, get_actor, require_roles
from housing.db import SessionDep, get_or_404
from housing.deps import Today
from housing.errors import Forbidden, Invalid
from housing.registry import queries, service
from housing.registry.models import (
    Apartment,
    Building,
    District,
    ManagementCompany,
    Ownership,
    Person,
    Residence,
)
from housing.registry.queries import VisibleApartment, VisibleBuilding, VisibleCompany, VisiblePerson
from housing.registry.schemas import (
    ApartmentCreate,
    ApartmentRead,
    ApartmentUpdate,
    BuildingCreate,
    BuildingRead,
    BuildingUpdate,
    CompanyCreate,
    CompanyRead,
    CompanyUpdate,
    DistrictCreate,
    DistrictRead,
    DistrictUpdate,
    ManagementChange,
    ManagementRead,
    OwnershipCreate,
    OwnershipRead,
    PeriodEnd,
    PersonCreate,
    PersonRead,
    PersonUpdate,
    ResidenceCreate,
    ResidenceRead,
)
from housing.routing import Paging, one_visible, paginate
from housing.schemas import API_PROBLEMS, Page
from housing.validation import Id

router = APIRouter(tags=["registry"], responses=API_PROBLEMS)

SIGNED_IN = Depends(get_actor)
REGISTRARS_ONLY = Depends(require_roles(actors.REGISTRARS))
ADMINS_ONLY = Depends(require_roles(actors.ADMINS))


def _building_read(session: Session, building: Building, today) -> BuildingRead:
    read = BuildingRead.model_validate(building)
    read.company_id = service.current_manager(session, building.id, today)
    return read


# Districts: everyone reads, admins write.


@router.get("/districts", response_model=Page[DistrictRead], dependencies=[SIGNED_IN])
def list_districts(session: SessionDep, paging: Paging):
    return paginate(session, select(District), paging, District.name)


@router.get("/districts/{district_id}", response_model=DistrictRead, dependencies=[SIGNED_IN])
def read_district(district_id: Id, session: SessionDep):
    return get_or_404(session, District, district_id, "district")


@router.post(
    "/districts", response_model=DistrictRead, status_code=status.HTTP_201_CREATED, dependencies=[ADMINS_ONLY]
)
def create_district(body: DistrictCreate, session: SessionDep):
    return service.create_district(session, **body.model_dump())


@router.patch("/districts/{district_id}", response_model=DistrictRead, dependencies=[ADMINS_ONLY])
def update_district(district_id: Id, body: DistrictUpdate, session: SessionDep):
    district = get_or_404(session, District, district_id, "district")
    return service.update_district(session, district, body.model_dump(exclude_unset=True))


# Management companies


@router.get("/companies", response_model=Page[CompanyRead])
def list_companies(session: SessionDep, actor: CurrentActor, today: Today, paging: Paging):
    return paginate(session, queries.visible_companies(actor, today), paging, ManagementCompany.id)


@router.get("/companies/{company_id}", response_model=CompanyRead)
def read_company(company: VisibleCompany):
    return company


@router.post(
    "/companies", response_model=CompanyRead, status_code=status.HTTP_201_CREATED, dependencies=[ADMINS_ONLY]
)
def create_company(body: CompanyCreate, session: SessionDep):
    return service.create_company(session, **body.model_dump())


@router.patch("/companies/{company_id}", response_model=CompanyRead, dependencies=[ADMINS_ONLY])
def update_company(company_id: Id, body: CompanyUpdate, session: SessionDep):
    company = get_or_404(session, ManagementCompany, company_id, "company")
    return service.update_company(session, company, body.model_dump(exclude_unset=True))


# Buildings


@router.get("/buildings", response_model=Page[BuildingRead])
def list_buildings(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    district_id: Annotated[Id | None, Query()] = None,
    company_id: Annotated[Id | None, Query(description="Managed by this company today")] = None,
):
    query = queries.visible_buildings(actor, today)
    if district_id is not None:
        query = query.where(Building.district_id == district_id)
    if company_id is not None:
        query = query.where(Building.id.in_(queries.managed_building_ids(company_id, today)))
    page = paginate(session, query, paging, Building.id)
    managers = dict(
        session.exec(
            queries.current_manager_ids(today).where(
                queries.BuildingManagement.building_id.in_([b.id for b in page["items"]])
            )
        ).all()
    )
    page["items"] = [
        BuildingRead.model_validate(b).model_copy(update={"company_id": managers.get(b.id)})
        for b in page["items"]
    ]
    return page


@router.get("/buildings/{building_id}", response_model=BuildingRead)
def read_building(session: SessionDep, today: Today, building: VisibleBuilding):
    return _building_read(session, building, today)


@router.post("/buildings", response_model=BuildingRead, status_code=status.HTTP_201_CREATED)
def create_building(body: BuildingCreate, session: SessionDep, actor: RegistrarActor, today: Today):
    fields = body.model_dump(exclude={"company_id", "managed_from"})
    company_id = _own_company(actor, body.company_id)
    building = service.create_building(
        session, company_id=company_id, managed_from=body.managed_from or today, **fields
    )
    return _building_read(session, building, today)


def _own_company(actor: Actor, company_id: int | None) -> int:
    """Managers register buildings for their own company; admins name the company."""
    if actor.role == Role.manager:
        if company_id not in (None, actor.company_id):
            raise Forbidden("a manager registers buildings for their own company only")
        return actor.company_id
    if company_id is None:
        raise Invalid("company_id is required", field="company_id")
    return company_id


@router.patch("/buildings/{building_id}", response_model=BuildingRead, dependencies=[REGISTRARS_ONLY])
def update_building(body: BuildingUpdate, session: SessionDep, today: Today, building: VisibleBuilding):
    building = service.update_building(session, building, body.model_dump(exclude_unset=True))
    return _building_read(session, building, today)


@router.get("/buildings/{building_id}/management", response_model=list[ManagementRead])
def building_management(session: SessionDep, building: VisibleBuilding):
    return service.management_history(session, building.id)


@router.post(
    "/buildings/{building_id}/management",
    response_model=ManagementRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ADMINS_ONLY],
)
def change_building_management(building_id: Id, body: ManagementChange, session: SessionDep):
    building = get_or_404(session, Building, building_id, "building")
    return service.change_management(
        session, building, company_id=body.company_id, valid_from=body.valid_from
    )


# Apartments


@router.get("/apartments", response_model=Page[ApartmentRead])
def list_apartments(
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    paging: Paging,
    building_id: Annotated[Id | None, Query()] = None,
):
    query = queries.visible_apartments(actor, today)
    if building_id is not None:
        query = query.where(Apartment.building_id == building_id)
    return paginate(session, query, paging, Apartment.id)


@router.get("/apartments/{apartment_id}", response_model=ApartmentRead)
def read_apartment(apartment: VisibleApartment):
    return apartment


def _visible_building_or_invalid(session: Session, actor: Actor, today, building_id: int) -> None:
    query = queries.visible_buildings(actor, today).where(Building.id == building_id)
    if session.exec(query).first() is None:
        raise Invalid(f"building {building_id} does not exist", field="building_id")


@router.post("/apartments", response_model=ApartmentRead, status_code=status.HTTP_201_CREATED)
def create_apartment(body: ApartmentCreate, session: SessionDep, actor: RegistrarActor, today: Today):
    _visible_building_or_invalid(session, actor, today, body.building_id)
    return service.create_apartment(session, **body.model_dump())


@router.patch("/apartments/{apartment_id}", response_model=ApartmentRead, dependencies=[REGISTRARS_ONLY])
def update_apartment(body: ApartmentUpdate, session: SessionDep, apartment: VisibleApartment):
    return service.update_apartment(session, apartment, body.model_dump(exclude_unset=True))


# People


@router.get("/people", response_model=Page[PersonRead])
def list_people(session: SessionDep, actor: CurrentActor, today: Today, paging: Paging):
    return paginate(session, queries.visible_people(actor, today), paging, Person.id)


@router.get("/people/{person_id}", response_model=PersonRead)
def read_person(person: VisiblePerson):
    return person


@router.post(
    "/people", response_model=PersonRead, status_code=status.HTTP_201_CREATED, dependencies=[REGISTRARS_ONLY]
)
def create_person(body: PersonCreate, session: SessionDep):
    return service.create_person(session, **body.model_dump())


@router.patch("/people/{person_id}", response_model=PersonRead, dependencies=[REGISTRARS_ONLY])
def update_person(body: PersonUpdate, session: SessionDep, person: VisiblePerson):
    return service.update_person(session, person, body.model_dump(exclude_unset=True))


# Ownership shares and residence: the same three routes, each period kind with its own rules.


def _visible_apartment_or_invalid(session: Session, actor: Actor, today, apartment_id: int) -> None:
    query = queries.visible_apartments(actor, today).where(Apartment.id == apartment_id)
    if session.exec(query).first() is None:
        raise Invalid(f"apartment {apartment_id} does not exist", field="apartment_id")


def _period_routes(path: str, label: str, model, create_model, read_model, visible, add) -> None:
    @router.get(f"/{path}", response_model=Page[read_model], name=f"list_{path}")
    def list_periods(
        session: SessionDep,
        actor: CurrentActor,
        today: Today,
        paging: Paging,
        apartment_id: Annotated[Id | None, Query()] = None,
    ):
        query = visible(actor, today)
        if apartment_id is not None:
            query = query.where(model.apartment_id == apartment_id)
        return paginate(session, query, paging, model.id)

    @router.post(
        f"/{path}", response_model=read_model, status_code=status.HTTP_201_CREATED, name=f"add_{label}"
    )
    def add_period(body: create_model, session: SessionDep, actor: RegistrarActor, today: Today):
        _visible_apartment_or_invalid(session, actor, today, body.apartment_id)
        return add(session, **body.model_dump())

    @router.post(f"/{path}/{{period_id}}/end", response_model=read_model, name=f"end_{label}")
    def end_period(period_id: Id, body: PeriodEnd, session: SessionDep, actor: RegistrarActor, today: Today):
        """Ends the period on a date; history is never rewritten."""
        row = one_visible(session, visible(actor, today), model, period_id, label)
        return service.end_period(session, row, body.valid_until)


_period_routes(
    "ownerships", "ownership", Ownership, OwnershipCreate, OwnershipRead,
    queries.visible_ownerships, service.add_ownership,
)  # fmt: skip
_period_routes(
    "residences", "residence", Residence, ResidenceCreate, ResidenceRead,
    queries.visible_residences, service.add_residence,
)  # fmt: skip
