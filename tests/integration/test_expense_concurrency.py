"""A building's expenses under concurrent transactions on PostgreSQL: the same bank statement
imported twice at once books each row once; a shared expense's document attached twice at once
leaves two whole documents, each listed under every part.

Each side runs in its own thread and transaction (`run_together` starts them from one barrier).
"""

import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from housing.actors import Actor
from housing.building_money.documents import Upload, attach_expense_document
from housing.building_money.models import BuildingExpense, ExpenseDocument
from housing.building_money.service import ExpenseInput, record_shared_expense
from housing.building_money.statement import import_expense_statement
from tests.concurrency import run_together
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.money import bookkeeper_of
from tests.factories.requests import png_bytes

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (HOUSING_TEST_DATABASE_URL)")

TODAY = date(2026, 11, 10)
STATEMENT = "date,amount,category,reference\n" + "".join(
    f"2026-10-{day:02d},{day}00.00,cleaning,BANK-{day}\n" for day in range(1, 29)
)


@pytest.fixture
def company_buildings(db: Engine):
    with Session(db, expire_on_commit=False) as session:
        company = make_company(session)
        buildings = [make_building(session, company) for _ in range(2)]
        for building in buildings:
            make_apartment(session, building, area_m2=Decimal("60"))
        manager = bookkeeper_of(session, buildings[0], TODAY)
        session.commit()
    return buildings, manager


def _in_own_transaction(db: Engine, work):
    def call():
        with Session(db, expire_on_commit=False) as session:
            result = work(session)
            session.commit()
            return result

    return call


def test_one_statement_imported_twice_at_once_books_each_row_once(db, company_buildings):
    (building, _), manager = company_buildings

    def importing(session: Session):
        return import_expense_statement(
            session, manager, io.StringIO(STATEMENT), building_id=building.id, today=TODAY
        )

    first, second = run_together(_in_own_transaction(db, importing), _in_own_transaction(db, importing))
    assert not isinstance(first, Exception) and not isinstance(second, Exception), (first, second)
    assert sorted([first.recorded, second.recorded]) == [0, 28]
    assert sorted([first.already_recorded, second.already_recorded]) == [0, 28]
    with Session(db) as session:
        rows = session.exec(select(BuildingExpense.bank_reference)).all()
    assert sorted(rows) == sorted(f"BANK-{day}" for day in range(1, 29))


def test_two_documents_attached_at_once_to_a_shared_expense_are_each_listed_under_every_part(
    db, company_buildings, tmp_path
):
    buildings, manager = company_buildings
    settings = make_settings(TEST_DATABASE_URL, money={"document_dir": str(tmp_path)})
    with Session(db, expire_on_commit=False) as session:
        shared = record_shared_expense(
            session,
            manager,
            building_ids=[b.id for b in buildings],
            expense=ExpenseInput(spent_on=TODAY, category="lifts", amount_minor=1_000_001),
            today=TODAY,
        )
        parts = session.exec(
            select(BuildingExpense.id).where(BuildingExpense.shared_expense_id == shared.id)
        ).all()
        session.commit()

    def attaching(expense_id: int, actor: Actor):
        return lambda session: attach_expense_document(
            session, actor, expense_id=expense_id, upload=Upload(png_bytes()), settings=settings, today=TODAY
        )

    results = run_together(
        _in_own_transaction(db, attaching(parts[0], manager)),
        _in_own_transaction(db, attaching(parts[1], manager)),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    with Session(db) as session:
        rows = session.exec(select(ExpenseDocument)).all()
    assert len(rows) == 4
    by_file: dict[str, set[int]] = {}
    for row in rows:
        by_file.setdefault(row.stored_name, set()).add(row.expense_id)
    assert list(by_file.values()) == [set(parts), set(parts)]
    assert len(list(tmp_path.iterdir())) == 2
