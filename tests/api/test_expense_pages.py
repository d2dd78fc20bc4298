"""The console's expense pages through plain HTTP, as a browser without JavaScript uses them: the
company's buildings, a building's quarter, booking with a document, correcting, importing a
statement, sharing an expense; refusals shown beside their field with nothing stored."""

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import Session, func, select

from housing.building_money.models import BuildingExpense, ExpenseDocument, SharedExpense
from tests.api.test_expenses_api import pdf_bytes
from tests.conftest import make_settings
from tests.factories.core import make_apartment, make_building
from tests.factories.money import bookkeeper_of, spend
from tests.pages import submit

TODAY = date(2026, 11, 10)
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, money={"document_dir": str(tmp_path / "expense-files")})


@pytest.fixture(autouse=True)
def _today(frozen_clock):
    frozen_clock.at(TODAY, 12)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _count(app, model) -> int:
    with Session(app.state.engine) as fresh:
        return fresh.exec(select(func.count()).select_from(model)).one()


def _page(city) -> str:
    return f"/console/money/buildings/{city.building_a.id}"


def _expense(**kw) -> dict:
    return {
        "spent_on": "2026-11-03",
        "category": "cleaning",
        "amount": "1 500 000,50",
        "supplier": HOSTILE,
        "description": "Stairs washed",
    } | kw


def test_a_manager_books_an_expense_with_its_document_and_sees_it_in_the_quarter(browser_of, city, app):
    manager = browser_of("manager")
    listing = manager.get("/console/money")
    assert listing.status_code == 200
    assert f'id="building-{city.building_a.id}"' in listing.text
    assert f'id="building-{city.building_b.id}"' not in listing.text
    booked = submit(
        manager,
        _page(city),
        f"{_page(city)}/expenses",
        _expense(request_ids=str(city.home_request.id), title="Act 12"),
        files={"file": ("act.pdf", pdf_bytes(), "application/pdf")},
    )
    assert booked.status_code == 200, booked.text
    assert "quarter=2026-Q4" in str(booked.url)
    text = _text(booked.text)
    assert "The expense is booked." in text
    assert "1,500,000.50" in text or "1 500 000,50" in text or "1 500 000.50" in text
    assert "&lt;script&gt;" in booked.text and "<script>alert" not in booked.text
    assert "Act 12" in text
    document_id = re.search(r"/api/v1/expense-documents/(\d+)", booked.text).group(1)
    assert (
        manager.get(f"/api/v1/expense-documents/{document_id}").headers["content-type"] == "application/pdf"
    )
    assert _count(app, BuildingExpense) == _count(app, ExpenseDocument) == 1
    assert "Expenses in 2026-Q4 so far" in _text(manager.get("/console/money").text)


def test_a_bad_document_books_no_expense_and_the_form_keeps_what_was_typed(browser_of, city, app):
    manager = browser_of("manager")
    answer = submit(
        manager,
        _page(city),
        f"{_page(city)}/expenses",
        _expense(supplier="Toza Hovli"),
        files={"file": ("act.pdf", b"plain text pretending", "application/pdf")},
    )
    assert answer.status_code == 422
    assert "The file must be a JPEG, PNG or WebP picture or a PDF" in _text(answer.text)
    assert 'value="Toza Hovli"' in answer.text
    assert _count(app, BuildingExpense) == _count(app, ExpenseDocument) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": "-5"}, "Give an amount in UZS above zero"),
        ({"amount": "1.001"}, "Give an amount in UZS above zero"),
        ({"amount": "NaN"}, "Give an amount in UZS above zero"),
        ({"category": "bribes"}, "Choose a category."),
        ({"spent_on": "2026-02-30"}, "Give the day it was paid."),
        ({"request_ids": "12, x"}, "Write request numbers separated by commas"),
        ({"spent_on": "2026-11-11"}, "in the future"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_booked(browser_of, city, app, change, message):
    manager = browser_of("manager")
    answer = submit(manager, _page(city), f"{_page(city)}/expenses", _expense(**change))
    assert answer.status_code == 422
    assert message in _text(answer.text)
    assert _count(app, BuildingExpense) == 0


def test_a_correction_and_a_statement_from_the_building_page(browser_of, city, app):
    manager = browser_of("manager")
    submit(manager, _page(city), f"{_page(city)}/expenses", _expense(amount="1000"))
    with Session(app.state.engine) as fresh:
        expense_id = fresh.exec(select(BuildingExpense.id)).one()
    fixed = submit(
        manager,
        _page(city),
        f"/console/money/expenses/{expense_id}/corrections",
        {"amount": "-250.50", "reason": "returned bulbs"},
    )
    assert fixed.status_code == 200, fixed.text
    assert "The correction is booked." in _text(fixed.text)
    assert "returned bulbs" in fixed.text
    zero = submit(
        manager,
        _page(city),
        f"/console/money/expenses/{expense_id}/corrections",
        {"amount": "0", "reason": "x"},
    )
    assert zero.status_code == 422 and _count(app, BuildingExpense) == 2
    csv = "date,amount,category,reference\n2026-11-01,10.00,materials,R-1\n2026-11-02,-1,materials,R-2\n"
    refused = submit(
        manager,
        _page(city),
        f"{_page(city)}/import",
        {},
        files={"file": ("s.csv", csv.encode(), "text/csv")},
    )
    assert refused.status_code == 422
    assert "Line 3 (amount)" in _text(refused.text)
    assert _count(app, BuildingExpense) == 2
    imported = submit(
        manager,
        _page(city),
        f"{_page(city)}/import",
        {},
        files={"file": ("s.csv", csv.replace("-1,", "1,").encode(), "text/csv")},
    )
    assert "Imported: 2 expenses booked, 0 already booked before." in _text(imported.text)
    assert _count(app, BuildingExpense) == 4


def test_staff_who_do_not_book_see_no_forms_and_residents_no_console(browser_of, city):
    dispatcher = browser_of("dispatcher")
    page = dispatcher.get(_page(city))
    assert page.status_code == 200 and "Book an expense" not in page.text
    assert dispatcher.get("/console/money/shared").status_code == 403
    assert browser_of("resident").get(_page(city)).status_code == 403
    assert browser_of("manager_b").get(_page(city)).status_code == 404


def test_a_shared_expense_from_the_form(browser_of, city, app, session):
    other = make_building(session, city.company_a)
    make_apartment(session, other, area_m2=Decimal("100"))
    session.commit()
    manager = browser_of("manager")
    form = {
        "building_ids": [str(city.building_a.id), str(other.id)],
        "weights": f"{city.building_a.id} = 3",
        "spent_on": "2026-11-01",
        "category": "staff",
        "amount": "100",
        "split_key": "manual",
        "split_note": "hours worked",
    }
    missing = submit(manager, "/console/money/shared", "/console/money/shared", form)
    assert missing.status_code == 422
    assert "give a weight for each building of the split" in _text(missing.text)
    assert _count(app, SharedExpense) == 0
    garbled = submit(manager, "/console/money/shared", "/console/money/shared", form | {"weights": "3 1"})
    assert "Write one line per building" in _text(garbled.text)
    weights = f"{city.building_a.id} = 3\n{other.id}: 1,0\n"
    done = submit(manager, "/console/money/shared", "/console/money/shared", form | {"weights": weights})
    assert done.status_code == 200, done.text
    assert "The shared expense is booked" in _text(done.text)
    with Session(app.state.engine) as fresh:
        parts = dict(fresh.exec(select(BuildingExpense.building_id, BuildingExpense.amount_minor)).all())
    assert parts == {city.building_a.id: 7_500, other.id: 2_500}


def test_an_admin_chooses_the_company_before_its_buildings(browser_of, city):
    admin = browser_of("admin")
    first = admin.get("/console/money/shared")
    assert first.status_code == 200
    assert 'name="company_id"' in first.text and 'name="building_ids"' not in first.text
    chosen = admin.get(f"/console/money/shared?company_id={city.company_a.id}")
    offered = re.search(r'<select id="building_ids".*?</select>', chosen.text, re.S).group(0)
    assert re.findall(r'value="(\d+)"', offered) == [str(city.building_a.id)]


def test_a_quarter_with_many_expenses_is_paged(browser_of, city, session):
    actor = bookkeeper_of(session, city.building_a, TODAY)
    for n in range(101):
        spend(session, city.building_a, 100 + n, on=date(2026, 10, 1 + n % 30), actor=actor, today=TODAY)
    session.commit()
    manager = browser_of("manager")
    first = manager.get(f"{_page(city)}?quarter=2026-Q4")
    assert first.text.count('<tr id="expense-') == 100
    assert "Page 1 of 2" in _text(first.text)
    assert "151.50" in _text(first.text)  # the quarter's total over both pages: 100..200 tiyin
    second = manager.get(f"{_page(city)}?quarter=2026-Q4&page=2")
    assert second.text.count('<tr id="expense-') == 1
