"""A building's expenses through the JSON API: who books and who reads, shared expenses, corrections,
documents (checked by content, listed under every part of a shared expense) and hostile input.

The shared `city`: company A manages building A (the resident's home and the neighbour's flat),
company B building B. The clock is frozen in 2026-Q4.
"""

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfWriter
from sqlmodel import Session, select

from housing.building_money.models import (
    BuildingExpense,
    ExpenseDocument,
    ExpenseRequest,
    SharedExpense,
)
from tests.conftest import make_settings
from tests.factories.core import make_apartment, make_building
from tests.factories.money import frozen_quarter
from tests.factories.requests import make_request, make_resident, png_bytes

TODAY = date(2026, 11, 10)
EXPENSE = {"spent_on": "2026-11-02", "category": "roof_and_repairs", "amount_minor": 4_500_000_00}


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(
        database_url, money={"document_dir": str(tmp_path / "expense-files"), "max_document_bytes": 4096}
    )


@pytest.fixture(autouse=True)
def _today(frozen_clock):
    frozen_clock.at(TODAY, 12)


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _rows(session: Session, model) -> list:
    session.expire_all()
    return list(session.exec(select(model)).all())


def book(client, city, body=None, who="manager", building=None):
    building = building or city.building_a
    return client.post(
        f"/api/v1/buildings/{building.id}/expenses", json=body or EXPENSE, headers=city.headers[who]
    )


# Booking and reading


def test_a_manager_books_an_expense_with_the_request_it_answered_and_residents_read_it(client, city):
    made = book(client, city, EXPENSE | {"request_ids": [city.home_request.id], "supplier": "Tom LLC"})
    assert made.status_code == 201, made.text
    expense = made.json()
    assert (expense["amount_minor"], expense["request_ids"], expense["supplier"]) == (
        4_500_000_00,
        [city.home_request.id],
        "Tom LLC",
    )
    assert expense["company_id"] == city.company_a.id
    for who in ("resident", "official", "admin", "manager", "dispatcher"):
        listed = client.get(
            f"/api/v1/buildings/{city.building_a.id}/expenses?quarter=2026-Q4", headers=city.headers[who]
        )
        assert listed.status_code == 200, (who, listed.text)
        assert [e["id"] for e in listed.json()["items"]] == [expense["id"]]
        assert client.get(f"/api/v1/expenses/{expense['id']}", headers=city.headers[who]).status_code == 200
    other_quarter = client.get(
        f"/api/v1/buildings/{city.building_a.id}/expenses?quarter=2026-Q3", headers=city.headers["manager"]
    )
    assert other_quarter.json()["total"] == 0


def test_another_company_neither_reads_nor_books_a_building_it_does_not_manage(client, city, session):
    expense = book(client, city).json()
    manager_b = city.headers["manager_b"]
    assert (
        client.get(f"/api/v1/buildings/{city.building_a.id}/expenses", headers=manager_b).status_code == 404
    )
    assert client.get(f"/api/v1/expenses/{expense['id']}", headers=manager_b).status_code == 404
    assert book(client, city, who="manager_b").status_code == 404
    fix = {"amount_minor": -100, "reason": "mine now"}
    assert (
        client.post(f"/api/v1/expenses/{expense['id']}/corrections", json=fix, headers=manager_b).status_code
        == 404
    )
    # The resident of building A does not read building B's money either.
    assert (
        client.get(
            f"/api/v1/buildings/{city.building_b.id}/expenses", headers=city.headers["resident"]
        ).status_code
        == 404
    )
    assert len(_rows(session, BuildingExpense)) == 1


@pytest.mark.parametrize("who", ["resident", "official", "dispatcher", "technician"])
def test_readers_who_are_not_bookkeepers_are_refused_every_write(client, city, session, who):
    expense = book(client, city).json()
    headers = city.headers[who]
    assert book(client, city, who=who).status_code == 403
    fix = {"amount_minor": -100, "reason": "no"}
    assert (
        client.post(f"/api/v1/expenses/{expense['id']}/corrections", json=fix, headers=headers).status_code
        == 403
    )
    shared = {**EXPENSE, "building_ids": [city.building_a.id, city.building_b.id]}
    assert client.post("/api/v1/shared-expenses", json=shared, headers=headers).status_code in (403, 404)
    upload = client.post(
        f"/api/v1/expenses/{expense['id']}/documents",
        files={"file": ("act.pdf", pdf_bytes(), "application/pdf")},
        headers=headers,
    )
    assert upload.status_code == 403
    csv = "date,amount,category,reference\n2026-11-01,100.00,cleaning,R1\n"
    imported = client.post(
        f"/api/v1/buildings/{city.building_a.id}/expenses/import",
        files={"file": ("s.csv", csv.encode(), "text/csv")},
        headers=headers,
    )
    assert imported.status_code == 403
    assert len(_rows(session, BuildingExpense)) == 1
    assert _rows(session, ExpenseDocument) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": -1}, "amount_minor"),
        ({"amount_minor": 10**16}, "amount_minor"),
        ({"amount_minor": True}, "amount_minor"),
        ({"amount_minor": 1.5}, "amount_minor"),
        ({"category": "bribes"}, "category"),
        ({"category": None}, "category"),
        ({"supplier": "a\x00b"}, "supplier"),
        ({"supplier": "x" * 201}, "supplier"),
        ({"description": "ok\x1bno"}, "description"),
        ({"spent_on": "2026-11-11"}, "spent_on"),  # tomorrow
        ({"spent_on": "9999-12-31"}, "spent_on"),
        ({"spent_on": 0}, "spent_on"),
        ({"request_ids": [2**31]}, "request_ids"),
        ({"request_ids": [0]}, "request_ids"),
        ({"request_ids": list(range(1, 60))}, "request_ids"),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_stored(client, city, session, change, field):
    answer = book(client, city, EXPENSE | change)
    assert answer.status_code == 422, answer.text
    assert field in answer.text
    assert _rows(session, BuildingExpense) == []


def test_a_request_of_another_building_is_not_linked(client, city, session):
    other = make_request(
        session,
        make_resident(session, city.far_away, owner=False),
        city.far_away,
        city.category,
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    session.commit()
    answer = book(client, city, EXPENSE | {"request_ids": [other.id]})
    assert answer.status_code == 422
    assert answer.json()["field"] == "request_ids"
    assert _rows(session, BuildingExpense) == _rows(session, ExpenseRequest) == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/buildings/{b}/expenses?quarter=2026-Q5",
        "/api/v1/buildings/{b}/expenses?quarter=1999-Q1",
        "/api/v1/buildings/{b}/expenses?quarter=%00",
        "/api/v1/buildings/{b}/expenses?limit=0",
        "/api/v1/buildings/2147483648/expenses",
        "/api/v1/expenses/2147483648",
        "/api/v1/expenses/-1",
        "/api/v1/expense-documents/0",
    ],
)
def test_hostile_reads_are_refused_without_a_server_error(client, city, path):
    answer = client.get(path.format(b=city.building_a.id), headers=city.headers["admin"])
    assert answer.status_code in (404, 422), answer.text


def test_an_expense_in_a_published_quarter_is_refused(client, city, session):
    frozen_quarter(session, city.building_a, city.company_a.id, 2026, 3)
    session.commit()
    answer = book(client, city, EXPENSE | {"spent_on": "2026-09-30"})
    assert answer.status_code == 409
    assert "2026-Q3" in answer.json()["detail"]
    assert _rows(session, BuildingExpense) == []


# Shared expenses and corrections


@pytest.fixture
def second_building(session, city):
    """A second building of company A with 150 m2 (building A has two flats of 54.30 m2)."""
    building = make_building(session, city.company_a)
    make_apartment(session, building, area_m2=Decimal("150.00"))
    session.commit()
    return building


def test_a_shared_expense_is_split_by_manual_weights_and_the_parts_add_up(client, city, second_building):
    body = {
        **EXPENSE,
        "amount_minor": 100_00,
        "building_ids": [city.building_a.id, second_building.id],
        "split_key": "manual",
        "weights": [
            {"building_id": city.building_a.id, "weight": "1"},
            {"building_id": second_building.id, "weight": "2"},
        ],
        "split_note": "lift hours in October",
    }
    made = client.post("/api/v1/shared-expenses", json=body, headers=city.headers["manager"])
    assert made.status_code == 201, made.text
    parts = {p["building_id"]: p["amount_minor"] for p in made.json()["parts"]}
    # 10,000 tiyin as 1 : 2 is 3,333.33 : 6,666.67 -> the larger remainder gets the last tiyin
    assert parts == {city.building_a.id: 3_333, second_building.id: 6_667}


def test_a_manual_split_without_a_note_or_with_a_missing_weight_books_nothing(
    client, city, session, second_building
):
    body = {
        **EXPENSE,
        "building_ids": [city.building_a.id, second_building.id],
        "split_key": "manual",
        "weights": [{"building_id": city.building_a.id, "weight": "1"}],
        "split_note": "measured",
    }
    manager = city.headers["manager"]
    assert client.post("/api/v1/shared-expenses", json=body, headers=manager).json()["field"] == "weights"
    body["weights"].append({"building_id": second_building.id, "weight": "2"})
    body["split_note"] = " "
    assert client.post("/api/v1/shared-expenses", json=body, headers=manager).json()["field"] == "split_note"
    body["weights"][1]["weight"] = "0.00001"
    assert client.post("/api/v1/shared-expenses", json=body, headers=manager).status_code == 422
    assert _rows(session, BuildingExpense) == _rows(session, SharedExpense) == []


def test_a_shared_expense_with_another_companys_building_books_nothing(client, city, session):
    body = {**EXPENSE, "building_ids": [city.building_a.id, city.building_b.id]}
    assert (
        client.post("/api/v1/shared-expenses", json=body, headers=city.headers["manager"]).status_code == 404
    )
    assert _rows(session, BuildingExpense) == _rows(session, SharedExpense) == []


def test_a_correction_is_listed_under_the_expense_it_corrects(client, city, frozen_clock):
    expense = book(client, city, EXPENSE | {"spent_on": "2026-10-05"}).json()
    frozen_clock.at(date(2026, 12, 1), 12)
    fixed = client.post(
        f"/api/v1/expenses/{expense['id']}/corrections",
        json={"amount_minor": -500_000_00, "reason": "the roofer returned unused sheets"},
        headers=city.headers["manager"],
    )
    assert fixed.status_code == 201, fixed.text
    assert (fixed.json()["corrects_id"], fixed.json()["spent_on"]) == (expense["id"], "2026-12-01")
    again = client.get(f"/api/v1/expenses/{expense['id']}", headers=city.headers["resident"]).json()
    assert again["amount_minor"] == 4_500_000_00  # the original stays as it was
    assert again["standing_minor"] == 4_000_000_00
    assert [c["id"] for c in again["corrections"]] == [fixed.json()["id"]]
    for bad in ({"amount_minor": 0, "reason": "x"}, {"amount_minor": -100, "reason": "  "}):
        answer = client.post(
            f"/api/v1/expenses/{expense['id']}/corrections", json=bad, headers=city.headers["manager"]
        )
        assert answer.status_code == 422


# Documents


def _upload(client, city, expense_id, data, name="act.pdf", who="manager"):
    return client.post(
        f"/api/v1/expenses/{expense_id}/documents",
        data={"title": "Act of works"},
        files={"file": (name, data, "application/pdf")},
        headers=city.headers[who],
    )


def test_a_document_is_stored_and_residents_of_the_building_download_it(client, city, settings):
    expense = book(client, city).json()
    data = pdf_bytes()
    attached = _upload(client, city, expense["id"], data)
    assert attached.status_code == 201, attached.text
    document = attached.json()["documents"][0]
    assert (document["title"], document["content_type"]) == ("Act of works", "application/pdf")
    listed = client.get(f"/api/v1/expenses/{expense['id']}/documents", headers=city.headers["resident"])
    assert [d["id"] for d in listed.json()] == [document["id"]]
    got = client.get(document["url"], headers=city.headers["resident"])
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert client.get(document["url"], headers=city.headers["manager_b"]).status_code == 404


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (b"just some text, not a PDF at all", "act.pdf", 415),
        (b"%PDF-1.4 but not really", "act.pdf", 415),
        (b"<script>alert(1)</script>", "photo.png", 415),
        (b"", "empty.pdf", 422),
        (png_bytes((300, 300)) + b"\0" * 5000, "huge.png", 413),
    ],
)
def test_a_file_that_is_not_an_image_or_a_pdf_or_too_large_is_refused_and_nothing_stored(
    client, city, session, settings, data, name, status
):
    expense = book(client, city).json()
    answer = _upload(client, city, expense["id"], data, name=name)
    assert answer.status_code == status, answer.text
    assert _rows(session, ExpenseDocument) == []
    folder = Path(settings.money.document_dir)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_shared_expenses_document_is_attached_once_and_listed_under_every_part(
    client, city, session, second_building, settings
):
    body = {**EXPENSE, "building_ids": [city.building_a.id, second_building.id]}
    parts = client.post("/api/v1/shared-expenses", json=body, headers=city.headers["manager"]).json()["parts"]
    assert _upload(client, city, parts[1]["expense_id"], png_bytes()).status_code == 201
    rows = _rows(session, ExpenseDocument)
    assert sorted(r.expense_id for r in rows) == sorted(p["expense_id"] for p in parts)
    assert len({r.stored_name for r in rows}) == 1
    assert len(list(Path(settings.money.document_dir).iterdir())) == 1
    # The resident of building A reads it under building A's part, not under the other one.
    mine = next(p for p in parts if p["building_id"] == city.building_a.id)
    theirs = next(p for p in parts if p["building_id"] == second_building.id)
    resident = city.headers["resident"]
    shown = client.get(f"/api/v1/expenses/{mine['expense_id']}", headers=resident).json()["documents"]
    assert client.get(shown[0]["url"], headers=resident).status_code == 200
    assert client.get(f"/api/v1/expenses/{theirs['expense_id']}", headers=resident).status_code == 404


def test_no_document_is_attached_in_a_published_quarter(client, city, session, frozen_clock):
    frozen_clock.at(date(2026, 9, 20), 12)
    expense = book(client, city, EXPENSE | {"spent_on": "2026-09-15"}).json()
    frozen_clock.at(TODAY, 12)
    frozen_quarter(session, city.building_a, city.company_a.id, 2026, 3)
    session.commit()
    assert _upload(client, city, expense["id"], pdf_bytes()).status_code == 409
    assert _rows(session, ExpenseDocument) == []
