"""A company's register from one CSV file: buildings, apartments, owners and their shares.

The whole file is checked first and nothing is written unless every row is right (each
problem with its line number); then everything goes through the registry service, so the
rules are those of the API. The columns, the refusals, re-importing and how people are
matched by PINFL (organisations by tax id) are specified in docs/import-format.md.

The module runs over 500 lines: checking a row alone, checking the rows against each other and
the register, and writing are stages of one import that share its row and plan types.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any, TextIO

from pydantic import Field, ValidationError
from sqlalchemy import Select
from sqlmodel import Session, select

from housing.csvfile import CsvRow, ImportRejected, ImportRowError, read_rows, row_error
from housing.errors import DomainError
from housing.registry import queries, service
from housing.registry.models import Apartment, Building, BuildingManagement, District, Person
from housing.registry.schemas import (
    ApartmentCreate,
    BuildingCreate,
    ImportReport,
    OwnershipCreate,
    PersonCreate,
)

MAX_ROWS = 100_000

REQUIRED_COLUMNS = (
    "district",
    "address",
    "latitude",
    "longitude",
    "floors",
    "apartment",
    "area_m2",
    "account_number",
)
OPTIONAL_COLUMNS = (
    "year_built",
    "total_area_m2",
    "entrance",
    "floor",
    "rooms",
    "registered_residents",
    "owner_name",
    "owner_pinfl",
    "owner_kind",
    "owner_tax_id",
    "owner_phone",
    "share",
    "owned_since",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
_DECIMAL_COLUMNS = ("latitude", "longitude", "total_area_m2", "area_m2")
# The API models' field names, as the file's columns call them.
_COLUMN_OF = {
    "number": "apartment",
    "full_name": "owner_name",
    "pinfl": "owner_pinfl",
    "kind": "owner_kind",
    "tax_id": "owner_tax_id",
    "phone": "owner_phone",
    "valid_from": "owned_since",
}
_CHUNK = 500  # values per IN (...) list, well inside every backend's parameter limit


# The API's own models, with the ids that the file gives by name left open.


class _BuildingColumns(BuildingCreate):
    district_id: int | None = None


class _ApartmentColumns(ApartmentCreate):
    building_id: int | None = None


class _OwnerColumns(PersonCreate):
    full_name: str | None = Field(None, min_length=2, max_length=200)


class _OwnershipColumns(OwnershipCreate):
    apartment_id: int | None = None
    person_id: int | None = None


@dataclass
class _Row(CsvRow):
    district: str | None = None
    building: dict[str, Any] | None = None  # address and the building's details
    apartment: dict[str, Any] | None = None
    owner: dict[str, Any] | None = None  # full_name, kind, tax_id, pinfl, phone
    share: Fraction = Fraction(1)
    owned_since: date | None = None
    building_key: tuple[int, str] | None = None
    apartment_key: tuple[tuple[int, str], str] | None = None


@dataclass
class _Plan:
    """What the checked file will create, keyed and ordered as the file gives it."""

    buildings: dict[tuple[int, str], _Row] = field(default_factory=dict)  # key -> its first row
    existing_buildings: dict[tuple[int, str], int] = field(default_factory=dict)  # key -> id
    apartments: dict[tuple[tuple[int, str], str], _Row] = field(default_factory=dict)
    owners: list[_Row] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)  # registered people by PINFL
    organisations: dict[str, Person] = field(default_factory=dict)  # registered organisations by tax id


def import_buildings_csv(session: Session, stream: TextIO, *, company_id: int, today: date) -> ImportReport:
    """Checks the whole file, then creates its buildings, apartments, people and shares.

    Raises ImportRejected listing every bad row, before anything is written. Flushes,
    never commits: the caller's transaction holds all of it or none of it.
    """
    rows = read_rows(
        stream,
        row_type=_Row,
        columns=COLUMNS,
        required=REQUIRED_COLUMNS,
        max_rows=MAX_ROWS,
        decimal_columns=_DECIMAL_COLUMNS,
    )
    errors: list[ImportRowError] = []
    for row in rows:
        errors += _parse(row, today)
    plan = _Plan()
    errors += _check_against_register(session, rows, plan, company_id=company_id, today=today)
    if errors:
        raise ImportRejected(errors)
    return _write(session, plan, company_id=company_id, today=today)


# Checking one row on its own


def _parse(row: _Row, today: date) -> list[ImportRowError]:
    cells = row.cells
    errors: list[ImportRowError] = []
    if row.extra:
        errors.append(row_error(row.line, None, f"cells outside the named columns: {row.extra}"))

    def given(*names: str) -> dict[str, str]:
        return {n: cells[n] for n in names if cells.get(n) is not None}

    if cells.get("district") is None:
        errors.append(row_error(row.line, "district", "a value is required"))
    else:
        row.district = cells["district"]
    building = given("address", "latitude", "longitude", "floors", "year_built", "total_area_m2")
    if "address" in building:
        building["address"] = " ".join(building["address"].split())
    row.building = _validated(
        _BuildingColumns, building, row.line, errors, exclude={"district_id", "company_id", "managed_from"}
    )
    apartment = given("entrance", "floor", "area_m2", "rooms", "registered_residents", "account_number")
    if cells.get("apartment") is not None:
        apartment["number"] = cells["apartment"]
    row.apartment = _validated(_ApartmentColumns, apartment, row.line, errors, exclude={"building_id"})

    if (
        cells.get("owner_name") is None
        and cells.get("owner_pinfl") is None
        and cells.get("owner_tax_id") is None
    ):
        errors += [
            row_error(row.line, n, "given without an owner; fill owner_name, owner_pinfl or owner_tax_id")
            for n in ("owner_kind", "owner_phone", "share", "owned_since")
            if cells.get(n) is not None
        ]
        return errors
    owner = {
        "full_name": cells.get("owner_name"),
        # A tax id alone says organisation; an individual with one is refused by the model.
        "kind": cells.get("owner_kind") or ("organisation" if cells.get("owner_tax_id") else None),
        "tax_id": cells.get("owner_tax_id"),
        "pinfl": cells.get("owner_pinfl"),
        "phone": cells.get("owner_phone"),
    }
    row.owner = _validated(
        _OwnerColumns,
        {k: v for k, v in owner.items() if v is not None},
        row.line,
        errors,
        exclude={"email"},
    )
    if row.owner is not None:
        try:
            service.check_identity(row.owner["kind"], row.owner.get("tax_id"), row.owner.get("pinfl"))
        except DomainError as exc:
            errors.append(row_error(row.line, _COLUMN_OF.get(exc.field or "", exc.field), exc.detail))
            row.owner = None
    period = {"share": cells.get("share") or "1", "valid_from": cells.get("owned_since") or today.isoformat()}
    ownership = _validated(_OwnershipColumns, period, row.line, errors)
    if ownership is not None:
        row.share, row.owned_since = ownership["share"], ownership["valid_from"]
        if row.owned_since > today:
            errors.append(row_error(row.line, "owned_since", f"{row.owned_since} is in the future"))
    return errors


def _validated(
    model: Any, data: dict[str, Any], line: int, errors: list[ImportRowError], exclude: set[str] | None = None
) -> dict[str, Any] | None:
    """The model's fields by name, or None after adding its complaints to errors."""
    try:
        valid = model.model_validate(data)
        # Read the attributes: model_dump would turn a Fraction share into text.
        return {name: getattr(valid, name) for name in model.model_fields if name not in (exclude or set())}
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else None
            reason = (
                "a value is required"
                if err["type"] == "missing"
                else err["msg"].removeprefix("Value error, ")
            )
            if err["type"] != "missing" and isinstance(err.get("input"), str):
                reason += f" (got {err['input']!r})"
            errors.append(row_error(line, _COLUMN_OF.get(name, name), reason))
        return None


# Checking rows against each other and against the register


def _normal_name(name: str) -> str:
    """District names as people type them: any case, any apostrophe for o' and g'."""
    return " ".join(re.sub("[\u02bb\u02bc\u2018\u2019`\u00b4]", "'", name).casefold().split())


def _check_against_register(
    session: Session, rows: list[_Row], plan: _Plan, *, company_id: int, today: date
) -> list[ImportRowError]:
    errors: list[ImportRowError] = []
    districts = _districts(session, {r.district for r in rows if r.district})
    named = [r for r in rows if r.district and r.building]
    addresses = {r.building["address"] for r in named}
    registered = {
        (district_id, address): building_id
        for building_id, district_id, address in _in_chunks(
            session, select(Building.id, Building.district_id, Building.address), Building.address, addresses
        )
    }
    managers = dict(
        _in_chunks(
            session, queries.current_manager_ids(today), BuildingManagement.building_id, registered.values()
        )
    )

    # A problem of the building itself is reported once, on its first row, naming its other rows.
    lines_of: dict[tuple[str, str], list[int]] = {}
    for row in named:
        lines_of.setdefault((_normal_name(row.district), row.building["address"]), []).append(row.line)

    def also(row: _Row) -> str:
        others = lines_of[(_normal_name(row.district), row.building["address"])][1:]
        if not others:
            return ""
        shown = ", ".join(map(str, others[:5])) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        return f" (and the building's rows on lines {shown})"

    for row in named:
        district = districts.get(_normal_name(row.district))
        if district is None:
            if lines_of[(_normal_name(row.district), row.building["address"])][0] == row.line:
                errors.append(
                    row_error(row.line, "district", f"no district named {row.district!r}{also(row)}")
                )
            continue
        key = (district.id, row.building["address"])
        row.building_key = key
        first = plan.buildings.get(key)
        if first is not None:
            errors += _differences(row.line, row.building, first.building, first.line, "building")
            continue
        plan.buildings[key] = row
        if key in registered:
            if managers.get(registered[key]) != company_id:
                errors.append(
                    row_error(
                        row.line,
                        "address",
                        f"{row.building['address']!r} in {district.name} is registered to another "
                        f"management company{also(row)}; the platform admin changes who manages a building",
                    )
                )
            else:
                plan.existing_buildings[key] = registered[key]

    errors += _check_apartments(session, rows, plan)
    errors += _check_owners(session, rows, plan)
    return errors


def _check_apartments(session: Session, rows: list[_Row], plan: _Plan) -> list[ImportRowError]:
    errors: list[ImportRowError] = []
    with_apartment = [r for r in rows if r.apartment]
    accounts = {r.apartment["account_number"] for r in with_apartment}
    taken_accounts = set(
        _in_chunks(session, select(Apartment.account_number), Apartment.account_number, accounts)
    )
    existing_numbers = set(
        _in_chunks(
            session,
            select(Apartment.building_id, Apartment.number),
            Apartment.building_id,
            plan.existing_buildings.values(),
        )
    )
    first_of_account: dict[str, _Row] = {}
    for row in with_apartment:
        number, account = row.apartment["number"], row.apartment["account_number"]
        if row.building_key is not None:
            row.apartment_key = (row.building_key, number)
            first = plan.apartments.get(row.apartment_key)
            if first is not None:
                errors += _differences(
                    row.line, row.apartment, first.apartment, first.line, f"apartment {number}"
                )
                continue
            plan.apartments[row.apartment_key] = row
            building_id = plan.existing_buildings.get(row.building_key)
            if (building_id, number) in existing_numbers:
                errors.append(
                    row_error(row.line, "apartment", f"apartment {number} already exists in this building")
                )
                continue  # its account number is taken by itself, which says nothing new
        if account in first_of_account:
            other = first_of_account[account]
            errors.append(
                row_error(
                    row.line,
                    "account_number",
                    f"{account} is also the account of apartment {other.apartment['number']} at line {other.line}",
                )
            )
        elif account in taken_accounts:
            errors.append(
                row_error(
                    row.line,
                    "account_number",
                    f"{account} already belongs to another apartment in the register",
                )
            )
        first_of_account.setdefault(account, row)
    return errors


def _check_owners(session: Session, rows: list[_Row], plan: _Plan) -> list[ImportRowError]:
    errors: list[ImportRowError] = []
    owned = [r for r in rows if r.owner is not None and r.apartment_key is not None]
    pinfls = {r.owner["pinfl"] for r in owned if r.owner.get("pinfl")}
    plan.people = {p.pinfl: p for p in _in_chunks(session, select(Person), Person.pinfl, pinfls)}
    tax_ids = {r.owner["tax_id"] for r in owned if r.owner.get("tax_id")}
    plan.organisations = {p.tax_id: p for p in _in_chunks(session, select(Person), Person.tax_id, tax_ids)}
    named_in_file: dict[str, _Row] = {}
    owners_of: dict[Any, dict[str, _Row]] = {}
    shares: dict[Any, list[_Row]] = {}
    for row in owned:
        pinfl, name = row.owner.get("pinfl"), row.owner.get("full_name")
        tax_id = row.owner.get("tax_id")
        if tax_id and tax_id not in plan.organisations:
            if name is None:
                errors.append(
                    row_error(
                        row.line,
                        "owner_name",
                        f"required: no organisation with tax id {tax_id} is registered",
                    )
                )
                continue
            first = named_in_file.setdefault(f"tax:{tax_id}", row)
            if _normal_name(first.owner["full_name"]) != _normal_name(name):
                errors.append(
                    row_error(
                        row.line,
                        "owner_name",
                        f"tax id {tax_id} is {first.owner['full_name']!r} at line {first.line}, not {name!r}",
                    )
                )
                continue
        if pinfl and pinfl not in plan.people:
            if name is None:
                errors.append(
                    row_error(row.line, "owner_name", f"required: no person with PINFL {pinfl} is registered")
                )
                continue
            first = named_in_file.setdefault(pinfl, row)
            if _normal_name(first.owner["full_name"]) != _normal_name(name):
                errors.append(
                    row_error(
                        row.line,
                        "owner_name",
                        f"PINFL {pinfl} is {first.owner['full_name']!r} at line {first.line}, not {name!r}",
                    )
                )
                continue
        who = pinfl or (f"tax:{tax_id}" if tax_id else _normal_name(name))
        same = owners_of.setdefault(row.apartment_key, {}).get(who)
        if same is not None:
            errors.append(
                row_error(
                    row.line,
                    "owner_pinfl" if pinfl else "owner_tax_id" if tax_id else "owner_name",
                    f"the same owner of apartment {row.apartment_key[1]} is already listed at line {same.line}",
                )
            )
            continue
        owners_of[row.apartment_key][who] = row
        shares.setdefault(row.apartment_key, []).append(row)
        plan.owners.append(row)

    for key, listed in shares.items():
        total = sum((r.share for r in listed), Fraction(0))
        if total > 1:
            running = Fraction(0)
            for r in listed:
                running += r.share
                if running > 1:
                    break
            lines = ", ".join(str(r.line) for r in listed)
            errors.append(
                row_error(
                    r.line,
                    "share",
                    f"the shares of apartment {key[1]} add up to {total} (lines {lines}); at most 1 is possible",
                )
            )
    return errors


def _differences(
    line: int, mine: dict[str, Any], first: dict[str, Any], first_line: int, what: str
) -> list[ImportRowError]:
    """A repeated building or apartment must say the same as its first row."""
    for name in sorted(set(first) | set(mine)):
        if first.get(name) != mine.get(name):
            return [
                row_error(
                    line,
                    _COLUMN_OF.get(name, name),
                    f"{_shown(mine.get(name))} differs from {_shown(first.get(name))} given for "
                    f"the same {what} at line {first_line}",
                )
            ]
    return []


def _shown(value: Any) -> str:
    return "empty" if value is None else str(value)


def _districts(session: Session, names: set[str]) -> dict[str, District]:
    """District by normalised name; the city has few, so all are read at once."""
    wanted = {_normal_name(n) for n in names}
    found: dict[str, District] = {}
    for district in session.exec(select(District)):
        if _normal_name(district.name) in wanted:
            found.setdefault(_normal_name(district.name), district)
    return found


def _in_chunks(session: Session, query: Select, column: Any, values: Iterable[Any]) -> Iterator[Any]:
    values = sorted(set(values), key=str)
    for start in range(0, len(values), _CHUNK):
        yield from session.exec(query.where(column.in_(values[start : start + _CHUNK])))


# Writing, once the whole file is known to be right


def _write(session: Session, plan: _Plan, *, company_id: int, today: date) -> ImportReport:
    report = ImportReport(buildings=0, apartments=0, people=0, ownerships=0)
    # Rows are held here, not only their ids: the session's identity map holds them weakly,
    # and a row it still holds spares the services a query when they check that it exists.
    buildings: dict[tuple[int, str], Building] = {
        key: session.get(Building, building_id) for key, building_id in plan.existing_buildings.items()
    }
    apartments: dict[Any, Apartment] = {}
    people = dict(plan.people)
    organisations = dict(plan.organisations)
    row: _Row | None = None
    try:
        for key, row in plan.buildings.items():
            if key not in buildings:
                buildings[key] = service.create_building(
                    session, company_id=company_id, managed_from=today, district_id=key[0], **row.building
                )
                report.buildings += 1
        for key, row in plan.apartments.items():
            apartments[key] = service.create_apartment(
                session, building_id=buildings[key[0]].id, **row.apartment
            )
            report.apartments += 1
        for row in plan.owners:
            pinfl, tax_id = row.owner.get("pinfl"), row.owner.get("tax_id")
            person = people.get(pinfl) if pinfl else organisations.get(tax_id) if tax_id else None
            if person is None:
                person = service.create_person(session, **row.owner)
                report.people += 1
                if pinfl:
                    people[pinfl] = person
                if tax_id:
                    organisations[tax_id] = person
            service.add_ownership(
                session,
                apartment_id=apartments[row.apartment_key].id,
                person_id=person.id,
                share=row.share,
                valid_from=row.owned_since,
            )
            report.ownerships += 1
    except DomainError as exc:  # the file was checked, so only a concurrent change gets here
        line = row.line if row is not None else 1
        raise ImportRejected(
            [row_error(line, _COLUMN_OF.get(exc.field or "", exc.field), exc.detail)]
        ) from exc
    return report
