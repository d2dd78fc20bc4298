"""Importing a company's register from CSV: what gets created, and what a bad file reports."""

import csv
import io
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from housing.registry import importer
from housing.registry.importer import ImportRejected, import_buildings_csv
from housing.registry.models import Apartment, Building, BuildingManagement, Ownership, Person
from tests.factories.core import make_apartment, make_building, make_company, make_district, make_person

TODAY = date(2026, 3, 1)
SAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "buildings.csv"
COLUMNS = [
    "district",
    "address",
    "latitude",
    "longitude",
    "floors",
    "apartment",
    "area_m2",
    "account_number",
    "owner_name",
    "owner_pinfl",
    "share",
]
ROW = {
    "district": "Yunusobod",
    "address": "Amir Temur shoh ko'chasi 1",
    "latitude": "41.35",
    "longitude": "69.28",
    "floors": "9",
    "apartment": "1",
    "area_m2": "54.30",
    "account_number": "YU-0001",
    "owner_name": "Dilnoza Karimova",
}


def csv_file(*rows: dict[str, str], columns: list[str] = COLUMNS) -> io.StringIO:
    """A file with the header on line 1 and each row (ROW with changes) on the next line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for changes in rows:
        writer.writerow({k: v for k, v in (ROW | changes).items() if k in columns})
    out.seek(0)
    return out


def counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
        for model in (Building, Apartment, Person, Ownership)
    }


def rejected(session: Session, stream: io.StringIO, company_id: int) -> list[tuple[int, str | None, str]]:
    with pytest.raises(ImportRejected) as caught:
        import_buildings_csv(session, stream, company_id=company_id, today=TODAY)
    return [(e.line, e.field, e.reason) for e in caught.value.errors]


@pytest.fixture
def company(session: Session):
    make_district(session, name="Yunusobod")
    return make_company(session, name="Yunusobod Servis")


def test_sample_file_creates_buildings_apartments_owners_and_shares(session):
    for name in ("Yunusobod", "Chilonzor", "Mirzo Ulug\u02bbbek"):  # the register spells it with an okina
        make_district(session, name=name)
    company = make_company(session)

    with SAMPLE.open(encoding="utf-8-sig", newline="") as stream:
        report = import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert report.model_dump() == {"buildings": 3, "apartments": 9, "people": 10, "ownerships": 11}
    assert counts(session) == {"building": 3, "apartment": 9, "person": 10, "ownership": 11}
    managed = session.exec(select(BuildingManagement)).all()
    assert {(m.company_id, m.valid_from, m.valid_until) for m in managed} == {(company.id, TODAY, None)}
    chilonzor = session.exec(select(Building).where(Building.address == "Chilonzor 9-kvartal, 15-uy")).one()
    assert (chilonzor.floors, chilonzor.year_built, chilonzor.total_area_m2) == (5, 1972, None)
    flat = session.exec(select(Apartment).where(Apartment.account_number == "YU-0001082")).one()
    assert (flat.number, flat.area_m2, flat.rooms, flat.registered_residents) == ("2", Decimal("67.80"), 3, 4)
    shares = session.exec(
        select(Person.full_name, Ownership.share_numerator, Ownership.share_denominator, Ownership.valid_from)
        .join(Person, Person.id == Ownership.person_id)
        .where(Ownership.apartment_id == flat.id)
    ).all()
    assert sorted(shares) == [
        ("Gulnora Toshmatova", 1, 2, date(2009, 3, 15)),
        ("Jasur Toshmatov", 1, 2, date(2009, 3, 15)),
    ]
    # The same PINFL on two apartments is one person; an owner without a date owns from today.
    dilnoza = session.exec(select(Person).where(Person.pinfl == "42903870123451")).one()
    assert len(session.exec(select(Ownership).where(Ownership.person_id == dilnoza.id)).all()) == 2
    aziz = session.exec(
        select(Ownership)
        .join(Person, Person.id == Ownership.person_id)
        .where(Person.full_name == "Aziz Yusupov")
    ).one()
    assert (Fraction(aziz.share_numerator, aziz.share_denominator), aziz.valid_from) == (1, TODAY)
    unowned = session.exec(select(Apartment).where(Apartment.account_number == "CH-0915012")).one()
    assert session.exec(select(Ownership).where(Ownership.apartment_id == unowned.id)).all() == []


def test_bad_rows_import_nothing_and_every_bad_line_is_reported(session, company):
    stream = csv_file(
        {"apartment": "1", "account_number": "YU-0001"},
        {"apartment": "2", "account_number": "YU-0002", "area_m2": "-5"},  # line 3
        {"apartment": "3", "account_number": "YU-0003"},
        {"apartment": "4", "account_number": "YU-0004", "latitude": "141.3", "floors": "0"},  # line 5
        {"apartment": "5", "account_number": "YU-0005"},
    )

    errors = rejected(session, stream, company.id)

    assert [(line, field) for line, field, _ in errors] == [(3, "area_m2"), (5, "latitude"), (5, "floors")]
    assert "greater than 0" in errors[0][2]
    assert counts(session) == {"building": 0, "apartment": 0, "person": 0, "ownership": 0}


def test_the_rejection_says_how_many_rows_are_wrong(session, company):
    stream = csv_file({"area_m2": "0"}, {"apartment": "2", "account_number": "YU-0002", "floors": "x"})

    with pytest.raises(ImportRejected) as caught:
        import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert caught.value.detail == "2 rows are wrong; nothing was imported"
    assert caught.value.status == 422
    assert caught.value.problem()["errors"] == [
        {"line": 2, "field": "area_m2", "reason": "Input should be greater than 0 (got '0')"},
        {
            "line": 3,
            "field": "floors",
            "reason": "Input should be a valid integer, unable to parse string as an integer (got 'x')",
        },
    ]


def test_shares_of_one_apartment_over_one_are_refused(session, company):
    stream = csv_file(
        {"owner_name": "Jasur Toshmatov", "share": "2/3"},
        {"owner_name": "Gulnora Toshmatova", "share": "1/2"},
    )

    errors = rejected(session, stream, company.id)

    assert errors == [
        (3, "share", "the shares of apartment 1 add up to 7/6 (lines 2, 3); at most 1 is possible")
    ]


def test_shares_that_add_up_to_exactly_one_are_fine(session, company):
    stream = csv_file(
        {"owner_name": "Jasur Toshmatov", "share": "1/3"},
        {"owner_name": "Gulnora Toshmatova", "share": "1/3"},
        {"owner_name": "Malika Toshmatova", "share": "1/3"},
    )

    report = import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert (report.apartments, report.ownerships) == (1, 3)


def test_unknown_district_is_reported_once_per_building_naming_its_rows(session, company):
    stream = csv_file(
        {"district": "Atlantis", "apartment": "1", "account_number": "YU-0001"},
        {"district": "Atlantis", "apartment": "2", "account_number": "YU-0002"},
        {"district": "Atlantis", "apartment": "3", "account_number": "YU-0003"},
        {"district": "Atlantis", "address": "Poseidon 1", "account_number": "YU-0004"},
    )

    errors = rejected(session, stream, company.id)

    assert errors == [
        (2, "district", "no district named 'Atlantis' (and the building's rows on lines 3, 4)"),
        (5, "district", "no district named 'Atlantis'"),
    ]


def test_district_names_match_whatever_the_case_and_apostrophe(session, company):
    make_district(session, name="Mirzo Ulug\u02bbbek")

    report = import_buildings_csv(
        session, csv_file({"district": "mirzo ulug'bek"}), company_id=company.id, today=TODAY
    )

    assert report.buildings == 1


def test_duplicate_account_number_in_the_file_or_the_register_is_refused(session, company):
    make_apartment(session, account_number="TAKEN-01")
    stream = csv_file(
        {"apartment": "1", "account_number": "YU-0001"},
        {"apartment": "2", "account_number": "YU-0001"},
        {"apartment": "3", "account_number": "TAKEN-01"},
    )

    errors = rejected(session, stream, company.id)

    assert errors == [
        (3, "account_number", "YU-0001 is also the account of apartment 1 at line 2"),
        (4, "account_number", "TAKEN-01 already belongs to another apartment in the register"),
    ]


def test_an_apartment_repeated_with_a_different_area_is_refused(session, company):
    stream = csv_file(
        {"owner_name": "Jasur Toshmatov", "share": "1/2"},
        {"owner_name": "Gulnora Toshmatova", "share": "1/2", "area_m2": "64.30"},
    )

    errors = rejected(session, stream, company.id)

    assert errors == [(3, "area_m2", "64.30 differs from 54.30 given for the same apartment 1 at line 2")]


def test_a_building_repeated_with_other_details_is_refused(session, company):
    stream = csv_file({"apartment": "1"}, {"apartment": "2", "account_number": "YU-0002", "floors": "12"})

    errors = rejected(session, stream, company.id)

    assert errors == [(3, "floors", "12 differs from 9 given for the same building at line 2")]


def test_the_same_owner_twice_on_one_apartment_is_refused(session, company):
    stream = csv_file(
        {"owner_name": "Jasur Toshmatov", "owner_pinfl": "31207820345672", "share": "1/4"},
        {"owner_name": "Jasur Toshmatov", "owner_pinfl": "31207820345672", "share": "1/4"},
    )

    errors = rejected(session, stream, company.id)

    assert errors == [(3, "owner_pinfl", "the same owner of apartment 1 is already listed at line 2")]


def test_owners_are_matched_by_pinfl_with_the_register(session, company):
    registered = make_person(session, full_name="Dilnoza Karimova", pinfl="42903870123451")
    stream = csv_file({"owner_name": "", "owner_pinfl": "42903870123451"})

    report = import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert (report.people, report.ownerships) == (0, 1)
    assert session.exec(select(Ownership.person_id)).one() == registered.id


def test_an_unregistered_pinfl_without_a_name_is_refused(session, company):
    errors = rejected(session, csv_file({"owner_name": "", "owner_pinfl": "42903870123451"}), company.id)

    assert errors == [(2, "owner_name", "required: no person with PINFL 42903870123451 is registered")]


def test_header_problems_are_reported_once_on_line_1(session, company):
    columns = [c for c in COLUMNS if c != "area_m2"] + ["colour"]
    stream = csv_file({}, {"apartment": "2"}, columns=columns)

    errors = rejected(session, stream, company.id)

    assert errors == [(1, "colour", "unknown column"), (1, "area_m2", "required column is missing")]


def test_line_numbers_are_physical_lines_even_after_a_quoted_line_break(session, company):
    stream = csv_file(
        {"address": "Amir Temur\nshoh ko'chasi 1"},  # lines 2 and 3
        {
            "apartment": "2",
            "account_number": "YU-0002",
            "area_m2": "big",
            "address": "Amir Temur shoh ko'chasi 1",
        },
    )

    errors = rejected(session, stream, company.id)

    assert [(line, field) for line, field, _ in errors] == [(4, "area_m2")]


def test_empty_unnamed_columns_are_ignored_but_stray_cells_are_not(session, company):
    stream = io.StringIO(
        "district,address,latitude,longitude,floors,apartment,area_m2,account_number,,\n"
        "Yunusobod,Amir Temur 1,41.35,69.28,9,1,54.30,YU-0001,,\n"
        "Yunusobod,Amir Temur 1,41.35,69.28,9,2,54.30,YU-0002,,oops\n"
        "Yunusobod,Amir Temur 1,41.35,69.28,9,3,54.30,YU-0003,,,,extra\n"
    )

    errors = rejected(session, stream, company.id)

    assert errors == [
        (3, None, "cells outside the named columns: oops"),
        (4, None, "cells outside the named columns: extra"),
    ]


def test_owner_details_without_an_owner_are_refused(session, company):
    errors = rejected(session, csv_file({"owner_name": "", "share": "1/2"}), company.id)

    assert errors == [(2, "share", "given without an owner; fill owner_name, owner_pinfl or owner_tax_id")]


def test_a_semicolon_file_with_decimal_commas_imports(session, company):
    stream = io.StringIO(
        "district;address;latitude;longitude;floors;apartment;area_m2;account_number\n"
        "Yunusobod;Amir Temur shoh ko'chasi 1;41,35;69,28;9;1;54,30;YU-0001\n"
    )

    report = import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert report.apartments == 1
    assert session.exec(select(Apartment.area_m2)).one() == Decimal("54.30")


def test_reimport_adds_apartments_to_the_companys_own_building(session, company):
    district = session.exec(select(importer.District)).one()
    building = make_building(session, company, district_id=district.id, address=ROW["address"])
    make_apartment(session, building, number="1", account_number="YU-0001")

    again = rejected(session, csv_file({}), company.id)
    report = import_buildings_csv(
        session, csv_file({"apartment": "2", "account_number": "YU-0002"}), company_id=company.id, today=TODAY
    )

    assert again == [(2, "apartment", "apartment 1 already exists in this building")]
    assert (report.buildings, report.apartments) == (0, 1)
    assert session.exec(select(func.count()).select_from(Building)).one() == 1
    assert sorted(session.exec(select(Apartment.number).where(Apartment.building_id == building.id))) == [
        "1",
        "2",
    ]


def test_a_building_of_another_company_is_refused(session, company):
    district = session.exec(select(importer.District)).one()
    make_building(session, make_company(session), district_id=district.id, address=ROW["address"])

    errors = rejected(session, csv_file({}), company.id)

    assert [(line, field) for line, field, _ in errors] == [(2, "address")]
    assert "registered to another management company" in errors[0][2]


def test_too_many_rows_are_refused_before_anything_is_checked(session, company, monkeypatch):
    monkeypatch.setattr(importer, "MAX_ROWS", 3)
    stream = csv_file(*({"apartment": str(n), "account_number": f"YU-000{n}"} for n in range(1, 5)))

    with pytest.raises(ImportRejected) as caught:
        import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert caught.value.detail == "the file has more than 3 rows; nothing was imported"
    assert counts(session)["apartment"] == 0


def test_an_empty_file_is_refused(session, company):
    assert rejected(session, io.StringIO(""), company.id) == [
        (1, None, "the file is empty; the first line must name the columns")
    ]


def test_a_file_that_is_not_utf8_is_refused(session, company):
    data = "district,address\nYunusobod,Амир Темур 1\n".encode("cp1251")
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")

    with pytest.raises(ImportRejected) as caught:
        import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert "not UTF-8" in caught.value.detail


def test_a_file_of_many_buildings_imports_whole(session, company):
    rows = [
        {
            "address": f"Yunusobod {n // 100 + 1}-mavze, {n // 100 + 1}-uy",
            "apartment": str(n % 100 + 1),
            "account_number": f"YU-{n:06d}",
            "owner_name": f"Owner {n}",
            "owner_pinfl": f"{30000000000000 + n}",
        }
        for n in range(600)
    ]

    report = import_buildings_csv(session, csv_file(*rows), company_id=company.id, today=TODAY)

    assert report.model_dump() == {"buildings": 6, "apartments": 600, "people": 600, "ownerships": 600}
