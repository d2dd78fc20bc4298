"""What each actor may see of the register, written once and used by every route.

Company staff see the buildings their company manages today; residents see the
apartments they own or are registered in today; admins and officials see the city.
"""

from datetime import date

from sqlalchemy import Select, or_, union
from sqlmodel import select

from housing.actors import Actor
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    ManagementCompany,
    Ownership,
    Person,
    Residence,
)


def _current(model, today: date):
    return (model.valid_from <= today) & or_(model.valid_until.is_(None), model.valid_until > today)


def managed_building_ids(company_id: int, today: date) -> Select:
    return select(BuildingManagement.building_id).where(
        BuildingManagement.company_id == company_id, _current(BuildingManagement, today)
    )


def current_manager_ids(today: date) -> Select:
    """building_id -> company_id of the management period open today."""
    return select(BuildingManagement.building_id, BuildingManagement.company_id).where(
        _current(BuildingManagement, today)
    )


def home_apartment_ids(person_id: int, today: date) -> Select:
    owned = select(Ownership.apartment_id).where(Ownership.person_id == person_id, _current(Ownership, today))
    lives = select(Residence.apartment_id).where(Residence.person_id == person_id, _current(Residence, today))
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
        .where(_current(BuildingManagement, today))
        .where(BuildingManagement.building_id.in_(_actor_building_ids(actor, today)))
    )
    return query.where(ManagementCompany.id.in_(managers))


def _people_of_apartments(apartments: Select, today: date) -> Select:
    ids = apartments.with_only_columns(Apartment.id)
    owners = select(Ownership.person_id).where(Ownership.apartment_id.in_(ids), _current(Ownership, today))
    residents = select(Residence.person_id).where(Residence.apartment_id.in_(ids), _current(Residence, today))
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
