"""Registry verbs. Each validates what the database cannot say clearly, flushes, never commits."""

from datetime import date
from fractions import Fraction
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_
from sqlmodel import Session, SQLModel, select

from housing.db import apply_changes
from housing.errors import Conflict, Invalid
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    District,
    ManagementCompany,
    Ownership,
    Person,
    PersonKind,
    Residence,
)
from housing.registry.periods import in_force

P = TypeVar("P", Ownership, Residence)


def _require(session: Session, model: type[SQLModel], id_: int | None, field: str) -> None:
    if id_ is not None and session.get(model, id_) is None:
        raise Invalid(f"{field.removesuffix('_id')} {id_} does not exist", field=field)


def _unique(
    session: Session, column: Any, value: Any, field: str, *scope: Any, exclude_id: int | None = None
) -> None:
    model = column.class_
    query = select(model.id).where(column == value, *scope)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    if session.exec(query).first() is not None:
        raise Conflict(f"{field} {value!r} is already taken", field=field)


def _unique_change(
    session: Session, row: SQLModel, changes: dict[str, Any], column: Any, *scope: Any
) -> None:
    """Refuses a change of `column` to a value another row (within `scope`) already has."""
    field = column.key
    if field in changes:
        _unique(session, column, changes[field], field, *scope, exclude_id=row.id)


# Districts and companies


def create_district(session: Session, *, name: str, city: str) -> District:
    _unique(session, District.name, name, "name")
    district = District(name=name, city=city)
    session.add(district)
    session.flush()
    return district


def update_district(session: Session, district: District, changes: dict[str, Any]) -> District:
    _unique_change(session, district, changes, District.name)
    return apply_changes(session, district, changes)


def create_company(session: Session, **fields: Any) -> ManagementCompany:
    _unique(session, ManagementCompany.tax_id, fields["tax_id"], "tax_id")
    _require(session, District, fields.get("district_id"), "district_id")
    company = ManagementCompany(**fields)
    session.add(company)
    session.flush()
    return company


def update_company(
    session: Session, company: ManagementCompany, changes: dict[str, Any]
) -> ManagementCompany:
    _require(session, District, changes.get("district_id"), "district_id")
    return apply_changes(session, company, changes)


# Buildings and who manages them


def create_building(session: Session, *, company_id: int, managed_from: date, **fields: Any) -> Building:
    _require(session, District, fields["district_id"], "district_id")
    _require(session, ManagementCompany, company_id, "company_id")
    _unique(
        session, Building.address, fields["address"], "address", Building.district_id == fields["district_id"]
    )
    building = Building(**fields)
    session.add(building)
    session.flush()
    session.add(BuildingManagement(building_id=building.id, company_id=company_id, valid_from=managed_from))
    session.flush()
    return building


def update_building(session: Session, building: Building, changes: dict[str, Any]) -> Building:
    _unique_change(session, building, changes, Building.address, Building.district_id == building.district_id)
    return apply_changes(session, building, changes)


def management_history(session: Session, building_id: int) -> list[BuildingManagement]:
    return list(
        session.exec(
            select(BuildingManagement)
            .where(BuildingManagement.building_id == building_id)
            .order_by(BuildingManagement.valid_from)
        )
    )


def current_manager(session: Session, building_id: int, today: date) -> int | None:
    return session.exec(
        select(BuildingManagement.company_id).where(
            BuildingManagement.building_id == building_id, in_force(BuildingManagement, today)
        )
    ).first()


def change_management(
    session: Session, building: Building, *, company_id: int, valid_from: date
) -> BuildingManagement:
    """Hands the building to another company from a date; the open period ends that day."""
    _require(session, ManagementCompany, company_id, "company_id")
    history = management_history(session, building.id)
    last = history[-1] if history else None
    if last is not None:
        if valid_from <= last.valid_from:
            raise Conflict(
                f"the change must start after the current period, which began {last.valid_from}",
                field="valid_from",
            )
        if last.company_id == company_id and last.valid_until is None:
            raise Conflict(f"company {company_id} already manages this building", field="company_id")
        last.valid_until = valid_from
        session.add(last)
    period = BuildingManagement(building_id=building.id, company_id=company_id, valid_from=valid_from)
    session.add(period)
    session.flush()
    return period


# Apartments and people


def create_apartment(session: Session, **fields: Any) -> Apartment:
    _require(session, Building, fields["building_id"], "building_id")
    _unique(
        session, Apartment.number, fields["number"], "number", Apartment.building_id == fields["building_id"]
    )
    _unique(session, Apartment.account_number, fields["account_number"], "account_number")
    apartment = Apartment(**fields)
    session.add(apartment)
    session.flush()
    return apartment


def update_apartment(session: Session, apartment: Apartment, changes: dict[str, Any]) -> Apartment:
    _unique_change(
        session, apartment, changes, Apartment.number, Apartment.building_id == apartment.building_id
    )
    return apply_changes(session, apartment, changes)


def check_identity(kind: PersonKind | str, tax_id: str | None, pinfl: str | None) -> None:
    """An organisation is known by its 9-digit tax id and has no PINFL; an individual has no
    tax id (the organisations' penalty rate follows the kind, docs/ledger.md)."""
    kind = PersonKind(kind)
    if kind is PersonKind.organisation:
        if not tax_id:
            raise Invalid("an organisation needs its tax id (INN, 9 digits)", field="tax_id")
        if not (len(tax_id) == 9 and tax_id.isascii() and tax_id.isdigit()):
            raise Invalid(f"tax id {tax_id!r} is not 9 digits", field="tax_id")
        if pinfl:
            raise Invalid("an organisation has a tax id, not a PINFL", field="pinfl")
    elif tax_id:
        raise Invalid(
            "an individual has no tax id; register an organisation as kind organisation", field="tax_id"
        )


def create_person(session: Session, **fields: Any) -> Person:
    check_identity(fields.get("kind", PersonKind.individual), fields.get("tax_id"), fields.get("pinfl"))
    if fields.get("pinfl"):
        _unique(session, Person.pinfl, fields["pinfl"], "pinfl")
    if fields.get("tax_id"):
        _unique(session, Person.tax_id, fields["tax_id"], "tax_id")
    person = Person(**fields)
    session.add(person)
    session.flush()
    return person


def update_person(session: Session, person: Person, changes: dict[str, Any]) -> Person:
    """A PATCH of a person: the kind, tax id and PINFL checked as they will stand together."""
    if "kind" in changes and changes["kind"] is None:
        raise Invalid("a person is an individual or an organisation", field="kind")
    check_identity(
        changes.get("kind", person.kind),
        changes.get("tax_id", person.tax_id),
        changes.get("pinfl", person.pinfl),
    )
    _unique_change(session, person, changes, Person.tax_id)
    return apply_changes(session, person, changes)


# Ownership shares and residence


def _overlaps(model: Any, valid_from: date, valid_until: date | None) -> Any:
    """Half-open periods [from, until) overlap when each starts before the other ends."""
    ends_after_start = or_(model.valid_until.is_(None), model.valid_until > valid_from)
    if valid_until is None:
        return ends_after_start
    return and_(model.valid_from < valid_until, ends_after_start)


def _active_on(periods: list[Ownership], day: date) -> list[Ownership]:
    return [p for p in periods if p.valid_from <= day and (p.valid_until is None or p.valid_until > day)]


def check_shares(
    session: Session,
    *,
    apartment_id: int,
    person_id: int,
    share: Fraction,
    valid_from: date,
    valid_until: date | None,
    exclude_id: int | None = None,
) -> None:
    """An owner's periods never overlap, and the shares valid on any day never pass 1."""
    query = select(Ownership).where(
        Ownership.apartment_id == apartment_id, _overlaps(Ownership, valid_from, valid_until)
    )
    if exclude_id is not None:
        query = query.where(Ownership.id != exclude_id)
    others = list(session.exec(query))
    if any(o.person_id == person_id for o in others):
        raise Conflict(
            f"person {person_id} already owns a share of apartment {apartment_id} in that period",
            field="valid_from",
        )
    # The total can only rise where some period starts, so those days are the ones to check.
    for day in {valid_from} | {o.valid_from for o in others if o.valid_from > valid_from}:
        total = share + sum(
            (Fraction(o.share_numerator, o.share_denominator) for o in _active_on(others, day)), Fraction(0)
        )
        if total > 1:
            raise Conflict(
                f"shares of apartment {apartment_id} on {day} would add up to {total}, more than 1",
                field="share",
            )


def add_ownership(
    session: Session,
    *,
    apartment_id: int,
    person_id: int,
    share: Fraction | str,
    valid_from: date,
    valid_until: date | None = None,
) -> Ownership:
    _require(session, Apartment, apartment_id, "apartment_id")
    _require(session, Person, person_id, "person_id")
    share = Fraction(share)  # also accepts '1/2' as the API's models dump it
    check_shares(
        session,
        apartment_id=apartment_id,
        person_id=person_id,
        share=share,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    ownership = Ownership(
        apartment_id=apartment_id,
        person_id=person_id,
        share_numerator=share.numerator,
        share_denominator=share.denominator,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    session.add(ownership)
    session.flush()
    return ownership


def end_period(session: Session, row: P, valid_until: date) -> P:
    """Ownership and residence end; they are never edited into a different past."""
    if valid_until <= row.valid_from:
        raise Invalid("valid_until must be after valid_from", field="valid_until")
    if row.valid_until is not None and valid_until > row.valid_until:
        raise Conflict(f"the period already ends on {row.valid_until}", field="valid_until")
    row.valid_until = valid_until
    session.add(row)
    session.flush()
    return row


def add_residence(
    session: Session, *, apartment_id: int, person_id: int, valid_from: date, valid_until: date | None = None
) -> Residence:
    _require(session, Apartment, apartment_id, "apartment_id")
    _require(session, Person, person_id, "person_id")
    clash = session.exec(
        select(func.count())
        .select_from(Residence)
        .where(
            Residence.apartment_id == apartment_id,
            Residence.person_id == person_id,
            _overlaps(Residence, valid_from, valid_until),
        )
    ).one()
    if clash:
        raise Conflict(
            f"person {person_id} is already registered in apartment {apartment_id} in that period",
            field="valid_from",
        )
    residence = Residence(
        apartment_id=apartment_id, person_id=person_id, valid_from=valid_from, valid_until=valid_until
    )
    session.add(residence)
    session.flush()
    return residence
