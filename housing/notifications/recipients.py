"""Who a notice about an apartment, a building or a company goes to: the user ids, as queries."""

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Select, select, union
from sqlmodel import Session, col

from housing.accounts.models import COMPANY_ROLES, Role, User
from housing.db import among
from housing.registry.models import Apartment, Building, BuildingManagement, Ownership, Residence
from housing.registry.periods import in_force


def _people_in(apartments: Select, today: date) -> Select:
    owners = select(Ownership.person_id).where(
        Ownership.apartment_id.in_(apartments), in_force(Ownership, today)
    )
    residents = select(Residence.person_id).where(
        Residence.apartment_id.in_(apartments), in_force(Residence, today)
    )
    return union(owners, residents)


def _active_residents(people: Select) -> Select:
    people = people.subquery()
    return select(User.id).where(
        User.role == Role.resident, User.is_active, col(User.person_id).in_(select(people.c[0]))
    )


def users_of_apartments(apartment_ids: Iterable[int], today: date) -> Select:
    """Active resident accounts of the owners and registered residents of these apartments."""
    apartments = select(Apartment.id).where(col(Apartment.id).in_(list(apartment_ids)))
    return _active_residents(_people_in(apartments, today))


def users_of_buildings(building_ids: Iterable[int], today: date, *, entrances: Iterable[int] = ()) -> Select:
    """As `users_of_apartments`, for every apartment of the buildings (or of those entrances)."""
    apartments = select(Apartment.id).where(col(Apartment.building_id).in_(list(building_ids)))
    entrances = list(entrances)
    if entrances:
        apartments = apartments.where(col(Apartment.entrance).in_(entrances))
    return _active_residents(_people_in(apartments, today))


def users_of_company(company_id: int, today: date) -> Select:
    """Resident accounts of every apartment in the buildings the company manages today."""
    managed = select(BuildingManagement.building_id).where(
        BuildingManagement.company_id == company_id, in_force(BuildingManagement, today)
    )
    apartments = select(Apartment.id).where(col(Apartment.building_id).in_(managed))
    return _active_residents(_people_in(apartments, today))


def users_of_district(district_id: int | None, today: date) -> Select:
    """Every resident account of a district, or of the whole city when `district_id` is None."""
    apartments = select(Apartment.id)
    if district_id is not None:
        apartments = apartments.join(Building, Building.id == Apartment.building_id).where(
            Building.district_id == district_id
        )
    return _active_residents(_people_in(apartments, today))


def company_staff(company_id: int, roles: Iterable[Role] = COMPANY_ROLES) -> Select:
    """Active accounts of a company's staff in these roles."""
    return select(User.id).where(
        User.company_id == company_id, User.is_active, col(User.role).in_([r.value for r in roles])
    )


def officials() -> Select:
    return select(User.id).where(User.role == Role.official, User.is_active)


def users_by_apartment(session: Session, apartment_ids: Iterable[int], today: date) -> dict[int, list[int]]:
    """apartment id -> the resident accounts of its owners and registered residents, for notices
    that differ per apartment (an invoice each). One query, whatever the number of apartments."""
    ids = list(apartment_ids)
    if not ids:
        return {}
    owners = select(Ownership.apartment_id, Ownership.person_id).where(
        among(session, Ownership.apartment_id, ids), in_force(Ownership, today)
    )
    residents = select(Residence.apartment_id, Residence.person_id).where(
        among(session, Residence.apartment_id, ids), in_force(Residence, today)
    )
    people = union(owners, residents).subquery()
    rows = session.execute(
        select(people.c[0], User.id)
        .join(User, User.person_id == people.c[1])
        .where(User.role == Role.resident, User.is_active)
        .order_by(people.c[0], User.id)
    )
    found: dict[int, list[int]] = {}
    for apartment_id, user_id in rows:
        found.setdefault(apartment_id, []).append(user_id)
    return found
