"""Importing a register through the API and the `housing import buildings` command."""

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from housing import cli
from housing.accounts.models import Role
from housing.registry.models import Apartment, Building, Ownership, Person
from tests.factories.core import login, make_company, make_district, make_user

API = "/api/v1"
URL = f"{API}/imports/buildings"
SAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "buildings.csv"
HEADER = "district,address,latitude,longitude,floors,apartment,area_m2,account_number,owner_name,share\n"
BAD_FILE = (
    HEADER
    + "Yunusobod,Amir Temur 1,41.35,69.28,9,1,54.30,YU-0001,Dilnoza Karimova,1\n"
    + "Yunusobod,Amir Temur 1,41.35,69.28,9,2,-3,YU-0002,Jasur Toshmatov,1\n"  # line 3: area
    + "Yunusobod,Amir Temur 1,41.35,69.28,9,3,48.10,YU-0003,Aziz Yusupov,1\n"
    + "Atlantis,Poseidon 1,41.35,69.28,9,1,48.10,YU-0004,Malika Ergasheva,1\n"  # line 5: district
    + "Yunusobod,Amir Temur 1,41.35,69.28,9,3,48.10,YU-0003,Gulnora Yusupova,1/2\n"  # line 6: shares 3/2
)


@pytest.fixture
def companies(session: Session):
    for name in ("Yunusobod", "Chilonzor", "Mirzo Ulug'bek"):
        make_district(session, name=name)
    ours, theirs = (
        make_company(session, name="Yunusobod Servis"),
        make_company(session, name="Chilonzor Uy-Joy"),
    )
    for role, company in (("manager", ours), ("official", None), ("admin", None), ("technician", ours)):
        make_user(session, Role(role), username=role, company_id=company.id if company else None)
    session.commit()
    return ours, theirs


def upload(client, who: str, content: bytes | str, **form) -> object:
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        URL, headers=login(client, who), files={"file": ("register.csv", data, "text/csv")}, data=form
    )


def counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
        for model in (Building, Apartment, Person, Ownership)
    }


def test_manager_imports_the_sample_file_for_their_company(client, session, companies):
    ours, _ = companies

    response = upload(client, "manager", SAMPLE.read_bytes())

    assert response.status_code == 201, response.text
    assert response.json() == {"buildings": 3, "apartments": 9, "people": 10, "ownerships": 11}
    listed = client.get(f"{API}/buildings", headers=login(client, "manager")).json()
    assert listed["total"] == 3
    assert {b["company_id"] for b in listed["items"]} == {ours.id}
    assert counts(session) == {"building": 3, "apartment": 9, "person": 10, "ownership": 11}


def test_a_file_with_bad_rows_imports_nothing_and_lists_every_bad_line(client, session, companies):
    response = upload(client, "manager", BAD_FILE)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == "3 rows are wrong; nothing was imported"
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (3, "area_m2"),
        (5, "district"),
        (6, "share"),
    ]
    assert problem["errors"][1]["reason"] == "no district named 'Atlantis'"
    assert "add up to 3/2" in problem["errors"][2]["reason"]
    assert counts(session) == {"building": 0, "apartment": 0, "person": 0, "ownership": 0}


def test_a_duplicate_account_number_is_reported_with_both_lines(client, session, companies):
    content = (
        HEADER
        + "Yunusobod,Amir Temur 1,41.35,69.28,9,1,54.30,YU-0001,Dilnoza Karimova,1\n"
        + "Yunusobod,Amir Temur 1,41.35,69.28,9,2,60.00,YU-0001,Jasur Toshmatov,1\n"
    )

    response = upload(client, "manager", content)

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "line": 3,
            "field": "account_number",
            "reason": "YU-0001 is also the account of apartment 1 at line 2",
        }
    ]
    assert counts(session)["apartment"] == 0


def test_a_manager_cannot_import_for_another_company(client, session, companies):
    _, theirs = companies

    response = upload(client, "manager", SAMPLE.read_bytes(), company_id=str(theirs.id))

    assert response.status_code == 403
    assert counts(session)["building"] == 0


@pytest.mark.parametrize("who", ["official", "technician"])
def test_only_admins_and_managers_import(client, session, companies, who):
    ours, _ = companies

    response = upload(client, who, SAMPLE.read_bytes(), company_id=str(ours.id))

    assert response.status_code == 403
    assert counts(session)["building"] == 0


def test_an_admin_names_the_company(client, session, companies):
    _, theirs = companies

    missing = upload(client, "admin", SAMPLE.read_bytes())
    unknown = upload(client, "admin", SAMPLE.read_bytes(), company_id="999999")
    done = upload(client, "admin", SAMPLE.read_bytes(), company_id=str(theirs.id))

    assert (missing.status_code, missing.json()["field"]) == (422, "company_id")
    assert (unknown.status_code, unknown.json()["detail"]) == (422, "company 999999 does not exist")
    assert done.status_code == 201, done.text
    listed = client.get(f"{API}/buildings", params={"company_id": theirs.id}, headers=login(client, "admin"))
    assert listed.json()["total"] == 3


def test_importing_the_same_file_twice_is_refused_the_second_time(client, session, companies):
    assert upload(client, "manager", SAMPLE.read_bytes()).status_code == 201

    again = upload(client, "manager", SAMPLE.read_bytes())

    assert again.status_code == 422
    assert {e["field"] for e in again.json()["errors"]} == {"apartment"}
    assert counts(session)["apartment"] == 9


def test_a_utf8_file_with_a_byte_order_mark_imports(client, session, companies):
    response = upload(client, "manager", "\ufeff".encode() + SAMPLE.read_bytes())

    assert response.status_code == 201, response.text
    # The mark is not part of the first column's name: every building is there.
    assert response.json()["buildings"] == 3
    assert session.exec(select(func.count()).select_from(Building)).one() == 3


def test_a_file_that_is_not_utf8_is_refused_clearly(client, session, companies):
    content = HEADER + "Yunusobod,Амир Темур 1,41.35,69.28,9,1,54.30,YU-0001,Дилноза Каримова,1\n"

    response = upload(client, "manager", content.encode("cp1251"))

    assert response.status_code == 422
    assert "not UTF-8" in response.json()["detail"]
    assert "line 2" in response.json()["detail"]


# The command line, committing through its own engine to the test database


def run_cli(database_url: str, *args: str):
    env = {"HOUSING_DB__URL": database_url, "HOUSING_ENVIRONMENT": "development", "COLUMNS": "200"}
    return CliRunner().invoke(cli.app, ["import", "buildings", *args], env=env)


def test_cli_imports_the_sample_file(database_url, session, companies, tmp_path):
    ours, _ = companies

    result = run_cli(database_url, str(SAMPLE), "--company", ours.tax_id)

    assert result.exit_code == 0, result.output
    assert "Imported 3 buildings, 9 apartments, 10 people, 11 ownership shares" in result.output
    assert counts(session) == {"building": 3, "apartment": 9, "person": 10, "ownership": 11}


def test_cli_refuses_a_bad_file_and_prints_the_lines(database_url, session, companies, tmp_path):
    ours, _ = companies
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_FILE, encoding="utf-8")

    result = run_cli(database_url, str(bad), "--company", ours.tax_id)

    assert result.exit_code == 1
    assert "3 rows are wrong; nothing was imported" in result.output
    table = [line for line in result.output.splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in table] == ["3", "5", "6"]
    assert counts(session)["building"] == 0
