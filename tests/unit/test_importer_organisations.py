"""Organisations in the register's CSV: a 9-digit tax id, matched with the register by it;
an individual has none. Every bad line named, nothing stored."""

import pytest
from sqlmodel import select

from housing.registry.importer import import_buildings_csv
from housing.registry.models import Ownership, Person, PersonKind
from tests.factories.core import make_company, make_district, make_person
from tests.unit.test_importer import COLUMNS, TODAY, counts, csv_file, rejected

WITH_ORGS = [*COLUMNS, "owner_kind", "owner_tax_id"]


@pytest.fixture
def company(session):
    make_district(session, name="Yunusobod")
    return make_company(session, name="Yunusobod Servis")


def test_an_organisation_is_imported_with_its_tax_id_and_reused_by_it(session, company):
    stream = csv_file(
        {"owner_name": "Toshkent Savdo MChJ", "owner_tax_id": "301234567", "share": "1/2"},
        {"owner_name": "Dilnoza Karimova", "owner_kind": "individual", "share": "1/2"},
        {
            "apartment": "2",
            "account_number": "YU-0002",
            "owner_name": "Toshkent Savdo MChJ",
            "owner_kind": "organisation",
            "owner_tax_id": "301234567",
        },
        columns=WITH_ORGS,
    )

    report = import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert (report.people, report.ownerships) == (2, 3)
    firm = session.exec(select(Person).where(Person.tax_id == "301234567")).one()
    assert firm.kind == PersonKind.organisation
    assert len(session.exec(select(Ownership).where(Ownership.person_id == firm.id)).all()) == 2


def test_a_registered_organisation_is_matched_by_tax_id(session, company):
    registered = make_person(
        session, full_name="Toshkent Savdo MChJ", kind=PersonKind.organisation, tax_id="301234567"
    )
    stream = csv_file({"owner_name": "", "owner_tax_id": "301234567"}, columns=WITH_ORGS)

    report = import_buildings_csv(session, stream, company_id=company.id, today=TODAY)

    assert (report.people, report.ownerships) == (0, 1)
    assert session.exec(select(Ownership.person_id)).one() == registered.id


def test_bad_organisation_rows_are_named_and_nothing_is_stored(session, company):
    before = counts(session)
    stream = csv_file(
        {"owner_name": "No Tax MChJ", "owner_kind": "organisation"},
        {
            "apartment": "2",
            "account_number": "YU-0002",
            "owner_kind": "individual",
            "owner_tax_id": "301234567",
        },
        {"apartment": "3", "account_number": "YU-0003", "owner_name": "Short MChJ", "owner_tax_id": "30123"},
        {"apartment": "4", "account_number": "YU-0004", "owner_name": "Firm", "owner_kind": "company"},
        {"apartment": "5", "account_number": "YU-0005", "owner_name": "Firm", "owner_tax_id": "30123456\x07"},
        {"apartment": "6", "account_number": "YU-0006", "owner_name": "", "owner_tax_id": "309999999"},
        {
            "apartment": "7",
            "account_number": "YU-0007",
            "owner_name": "Firm MChJ",
            "owner_tax_id": "301234567",
            "owner_pinfl": "31207820345672",
        },
        {"apartment": "8", "account_number": "YU-0008", "owner_name": "", "owner_kind": "organisation"},
        columns=WITH_ORGS,
    )

    errors = rejected(session, stream, company.id)

    by_line = {line: (field, reason) for line, field, reason in errors}
    assert by_line[2] == ("owner_tax_id", "an organisation needs its tax id (INN, 9 digits)")
    assert by_line[3][0] == "owner_tax_id" and "individual has no tax id" in by_line[3][1]
    assert by_line[4][0] == "owner_tax_id" and "30123" in by_line[4][1]
    assert by_line[5][0] == "owner_kind"
    assert by_line[6][0] == "owner_tax_id"
    assert by_line[7] == ("owner_name", "required: no organisation with tax id 309999999 is registered")
    assert by_line[8] == ("owner_pinfl", "an organisation has a tax id, not a PINFL")
    assert by_line[9][0] == "owner_kind" and "given without an owner" in by_line[9][1]
    assert counts(session) == before
