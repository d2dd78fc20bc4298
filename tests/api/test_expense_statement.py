"""A bank statement of a building's account imported as its expenses: all rows or none, every bad
line named, a rerun books nothing twice, a reference reused with another amount is refused."""

from datetime import date

import pytest
from sqlmodel import select

from housing.building_money.models import BuildingExpense
from tests.factories.money import frozen_quarter

TODAY = date(2026, 11, 10)
GOOD = (
    "date,amount,category,supplier,reference,description\n"
    "2026-10-03,1500000.00,cleaning,Toza Hovli,BANK-001,Stairs cleaned in October\n"
    '2026-10-15,250000.50,lifts,Lift Servis,BANK-002,"Monthly lift check, both lifts"\n'
    "2026-11-02,99.99,other,,BANK-003,\n"
)


@pytest.fixture(autouse=True)
def _today(frozen_clock):
    frozen_clock.at(TODAY, 12)


def _import(client, city, text: str, who: str = "manager", building=None):
    building = building or city.building_a
    return client.post(
        f"/api/v1/buildings/{building.id}/expenses/import",
        files={"file": ("statement.csv", text.encode(), "text/csv")},
        headers=city.headers[who],
    )


def _booked(session) -> list[BuildingExpense]:
    session.expire_all()
    return list(session.exec(select(BuildingExpense).order_by(BuildingExpense.id)).all())


def test_a_statement_is_booked_and_a_rerun_books_nothing_twice(client, city, session):
    first = _import(client, city, GOOD)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "recorded": 3,
        "already_recorded": 0,
        "total_minor": 150_000_000 + 25_000_050 + 9_999,
    }
    rows = _booked(session)
    assert [(r.bank_reference, r.amount_minor, r.category) for r in rows] == [
        ("BANK-001", 150_000_000, "cleaning"),
        ("BANK-002", 25_000_050, "lifts"),
        ("BANK-003", 9_999, "other"),
    ]
    assert rows[1].description == "Monthly lift check, both lifts"
    again = _import(client, city, GOOD + "2026-11-05,10.00,materials,Bozor,BANK-004,Bulbs\n")
    assert again.status_code == 201, again.text
    assert again.json() == {"recorded": 1, "already_recorded": 3, "total_minor": 1_000}
    assert len(_booked(session)) == 4


def test_every_bad_line_is_named_and_nothing_is_booked(client, city, session):
    text = (
        "date,amount,category,supplier,reference,description\n"
        "2026-10-03,1500000.00,cleaning,Toza Hovli,BANK-001,fine\n"  # line 2 is fine
        "2026-13-01,100.00,cleaning,,BANK-002,\n"  # 3: no such day
        "2026-10-04,-5.00,cleaning,,BANK-003,\n"  # 4: negative
        "2026-10-04,0.001,cleaning,,BANK-004,\n"  # 5: three decimals
        "2026-10-04,100.00,bribes,,BANK-005,\n"  # 6: no such category
        "2026-10-04,100.00,cleaning,,BANK-001,\n"  # 7: repeats line 2's reference
        "2026-12-01,100.00,cleaning,,BANK-006,\n"  # 8: in the future
        "2026-10-04,100.00,cleaning,,,\n"  # 9: no reference
        "2026-10-04,100.00,cleaning,a\x01b,BANK-007,\n"  # 10: a control character
        "2026-10-04,1e30,cleaning,,BANK-008,\n"  # 11: beyond any amount
        "2026-10-04,NaN,cleaning,,BANK-009,\n"  # 12: not a number
    )
    answer = _import(client, city, text)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert sorted({e["line"] for e in errors}) == list(range(3, 13))
    assert {(e["line"], e["field"]) for e in errors} >= {
        (3, "date"),
        (4, "amount"),
        (5, "amount"),
        (6, "category"),
        (7, "reference"),
        (8, "date"),
        (9, "reference"),
        (10, "supplier"),
        (11, "amount"),
        (12, "amount"),
    }
    assert _booked(session) == []


def test_a_reference_booked_with_another_amount_is_refused(client, city, session):
    assert _import(client, city, GOOD).status_code == 201
    changed = GOOD.replace("1500000.00", "1500000.01")
    answer = _import(client, city, changed)
    assert answer.status_code == 422
    assert [(e["line"], e["field"]) for e in answer.json()["errors"]] == [(2, "reference")]
    assert len(_booked(session)) == 3


def test_rows_in_a_published_quarter_are_refused_by_line(client, city, session):
    frozen_quarter(session, city.building_a, city.company_a.id, 2026, 3)
    session.commit()
    text = GOOD + "2026-09-30,10.00,cleaning,,BANK-010,late invoice\n"
    answer = _import(client, city, text)
    assert answer.status_code == 422
    assert [(e["line"], e["field"]) for e in answer.json()["errors"]] == [(5, "date")]
    assert "2026-Q3" in answer.json()["errors"][0]["reason"]
    assert _booked(session) == []


def test_a_statement_imported_again_after_its_quarter_is_published_skips_what_was_booked(
    client, city, session, frozen_clock
):
    frozen_clock.at(date(2026, 9, 30), 12)
    q3 = "date,amount,category,supplier,reference,description\n2026-09-20,500.00,cleaning,,BANK-900,\n"
    assert _import(client, city, q3).status_code == 201
    frozen_quarter(session, city.building_a, city.company_a.id, 2026, 3)
    session.commit()
    frozen_clock.at(TODAY, 12)
    again = _import(client, city, q3 + GOOD.split("\n", 1)[1])  # the bank's next statement overlaps
    assert again.status_code == 201, again.text
    assert again.json()["already_recorded"] == 1 and again.json()["recorded"] == 3
    changed = _import(client, city, q3.replace("500.00", "501.00"))  # another amount: refused
    assert changed.status_code == 422
    assert len(_booked(session)) == 4


def test_a_day_before_the_company_managed_the_building_is_refused_by_line(client, city, session):
    answer = _import(client, city, GOOD + "2019-12-31,10.00,cleaning,,BANK-011,\n")
    assert answer.status_code == 422
    assert [(e["line"], e["field"]) for e in answer.json()["errors"]] == [(5, "date")]
    assert _booked(session) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "date,amount,category,reference\n",  # a header and no rows
        "date,amount,category\n2026-10-01,1.00,cleaning\n",  # no reference column
        "date,amount,category,reference,colour\n2026-10-01,1.00,cleaning,R,red\n",
        "date,amount,category,reference\n2026-10-01,1.00,cleaning,R,extra cell\n",
    ],
)
def test_a_file_that_is_not_the_statement_is_refused(client, city, session, text):
    answer = _import(client, city, text)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"]
    assert _booked(session) == []


def test_bytes_that_are_not_utf8_are_refused(client, city, session):
    answer = client.post(
        f"/api/v1/buildings/{city.building_a.id}/expenses/import",
        files={
            "file": ("s.csv", b"date,amount,category,reference\n2026-10-01,1.00,cleaning,\xff\n", "text/csv")
        },
        headers=city.headers["manager"],
    )
    assert answer.status_code == 422
    assert _booked(session) == []


def test_another_companys_building_is_not_found(client, city, session):
    assert _import(client, city, GOOD, who="manager_b").status_code == 404
    assert _import(client, city, GOOD, who="manager", building=city.building_b).status_code == 404
    assert _booked(session) == []


def test_a_spreadsheets_semicolons_and_decimal_commas_are_read(client, city, session):
    text = "date;amount;category;reference\n2026-10-03;1500,25;cleaning;BANK-S1\n"
    answer = _import(client, city, text)
    assert answer.status_code == 201, answer.text
    assert [r.amount_minor for r in _booked(session)] == [150_025]
