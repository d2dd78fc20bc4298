"""What each actor may see of the register, written once and used by every route.

Company staff see the buildings their company manages today; residents see the
apartments they own or are registered in today; admins and officials see the city.
The filters are plain functions of the actor; beside them, the route dependencies that load
one building, apartment, person or company within that scope (`VisibleBuilding`, ...: 404
outside it, so ids do not leak).
"""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select, union
from sqlmodel import select

from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import NotFound
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    ManagementCompany,
    Ownership,
    Person,
    Residence,
)
from housing.registry.periods import in_force
from housing.validation import Id


def managed_building_ids(company_id: int, today: date) -> Select:
    return select(BuildingManagement.building_id).where(
        BuildingManagement.company_id == company_id, in_force(BuildingManagement, today)
    )


def current_manager_ids(today: date) -> Select:
    """building_id -> company_id of the management period open today."""
    return select(BuildingManagement.building_id, BuildingManagement.company_id).where(
        in_force(BuildingManagement, today)
    )


def home_apartment_ids(person_id: int, today: date) -> Select:
    owned = select(Ownership.apartment_id).where(Ownership.person_id == person_id, in_force(Ownership, today))
    lives = select(Residence.apartment_id).where(Residence.person_id == person_id, in_force(Residence, today))
    return union(owned, lives)


def _actor_building_ids(actor: Actor, today: date) -> Select | None:
    """None means no restriction (city-wide roles)."""
    if actor.sees_whole_city:
        return None
    if actor.is_company_staff:
        return managed_building_ids(actor.company_id, today)
    homes = home_apartment_ids(actor.person_id, today).subquery()
    return select(Apartment.building_id).where(Apartment.id.in_(select(homes.c.apartment_id)))


def visible_buildings(actor: Actor, today: date) -> Select:
    query = select(Building)
    ids = _actor_building_ids(actor, today)
    return query if ids is None else query.where(Building.id.in_(ids))


def visible_apartments(actor: Actor, today: date) -> Select:
    query = select(Apartment)
    if actor.sees_whole_city:
        return query
    if actor.is_company_staff:
        return query.where(Apartment.building_id.in_(managed_building_ids(actor.company_id, today)))
    homes = home_apartment_ids(actor.person_id, today).subquery()
    return query.where(Apartment.id.in_(select(homes.c.apartment_id)))


def visible_companies(actor: Actor, today: date) -> Select:
    query = select(ManagementCompany)
    if actor.sees_whole_city:
        return query
    if actor.is_company_staff:
        return query.where(ManagementCompany.id == actor.company_id)
    managers = (
        select(BuildingManagement.company_id)
        .where(in_force(BuildingManagement, today))
        .where(BuildingManagement.building_id.in_(_actor_building_ids(actor, today)))
    )
    return query.where(ManagementCompany.id.in_(managers))


def _people_of_apartments(apartments: Select, today: date) -> Select:
    ids = apartments.with_only_columns(Apartment.id)
    owners = select(Ownership.person_id).where(Ownership.apartment_id.in_(ids), in_force(Ownership, today))
    residents = select(Residence.person_id).where(Residence.apartment_id.in_(ids), in_force(Residence, today))
    return union(owners, residents)


def visible_people(actor: Actor, today: date) -> Select:
    query = select(Person)
    if actor.sees_whole_city:
        return query
    if actor.role == "resident":
        return query.where(Person.id == actor.person_id)
    people = _people_of_apartments(visible_apartments(actor, today), today).subquery()
    return query.where(Person.id.in_(select(people.c[0])))


def visible_ownerships(actor: Actor, today: date) -> Select:
    ids = visible_apartments(actor, today).with_only_columns(Apartment.id)
    return select(Ownership).where(Ownership.apartment_id.in_(ids))


def visible_residences(actor: Actor, today: date) -> Select:
    ids = visible_apartments(actor, today).with_only_columns(Apartment.id)
    return select(Residence).where(Residence.apartment_id.in_(ids))


# One row, loaded within the actor's scope; outside it reads as missing.


def _one(session, query: Select, model, id_: int, label: str):
    found = session.exec(query.where(model.id == id_)).first()
    if found is None:
        raise NotFound(f"{label} {id_} not found")
    return found


def _visible_building(building_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Building:
    return _one(session, visible_buildings(actor, today), Building, building_id, "building")


def _visible_apartment(apartment_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Apartment:
    return _one(session, visible_apartments(actor, today), Apartment, apartment_id, "apartment")


def _visible_person(person_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Person:
    return _one(session, visible_people(actor, today), Person, person_id, "person")


def _visible_company(
    company_id: Id, session: SessionDep, actor: CurrentActor, today: Today
) -> ManagementCompany:
    return _one(session, visible_companies(actor, today), ManagementCompany, company_id, "company")


VisibleBuilding = Annotated[Building, Depends(_visible_building)]
VisibleApartment = Annotated[Apartment, Depends(_visible_apartment)]
VisiblePerson = Annotated[Person, Depends(_visible_person)]
VisibleCompany = Annotated[ManagementCompany, Depends(_visible_company)]
