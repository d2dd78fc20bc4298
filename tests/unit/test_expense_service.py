"""Booking a building's expenses: own, shared (split exactly), corrected; the refusals leave nothing."""

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from housing.accounts.models import Role
from housing.building_money.models import BuildingExpense, SharedExpense
from housing.building_money.service import ExpenseInput, correct_expense, record_shared_expense
from housing.errors import Conflict, Forbidden, Invalid, NotFound
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.meetings import admin, staff
from tests.factories.money import bookkeeper_of, frozen_quarter, spend

DAY = date(2026, 8, 10)


@pytest.fixture
def two_buildings(session):
    company = make_company(session)
    small = make_building(session, company)
    large = make_building(session, company)
    make_apartment(session, small, area_m2=Decimal("33.33"))
    make_apartment(session, large, area_m2=Decimal("66.67"))
    make_apartment(session, large, area_m2=Decimal("100.00"))
    return company, small, large


def _count(session, model) -> int:
    return len(session.exec(select(model)).all())


def test_an_expense_is_booked_for_the_managing_company(session, two_buildings):
    company, small, _ = two_buildings
    row = spend(session, small, 150_000_00, on=DAY, supplier="Tozalik LLC")
    assert (row.company_id, row.amount_minor, row.supplier) == (company.id, 150_000_00, "Tozalik LLC")


def test_a_shared_expense_is_split_by_area_to_the_tiyin(session, two_buildings):
    _, small, large = two_buildings
    actor = bookkeeper_of(session, small, DAY)
    shared = record_shared_expense(
        session,
        actor,
        building_ids=[large.id, small.id],
        expense=ExpenseInput(spent_on=DAY, category="lifts", amount_minor=1_000_001),
        today=DAY,
    )
    parts = {e.building_id: e.amount_minor for e in session.exec(select(BuildingExpense)).all()}
    # 33.33 : 166.67 of 1,000,001 is 166,650.1667 : 833,350.8333 -> the larger remainder gets the tiyin
    assert parts == {small.id: 166_650, large.id: 833_351}
    assert sum(parts.values()) == shared.amount_minor


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount_minor": 0}, Invalid),
        ({"amount_minor": -5}, Invalid),
        ({"amount_minor": 10**16}, Invalid),
        ({"amount_minor": True}, Invalid),
        ({"category": "bribes"}, Invalid),
        ({"supplier": "a\x00b"}, Invalid),
        ({"spent_on": date(2026, 8, 11)}, Invalid),  # tomorrow
    ],
)
def test_a_bad_expense_is_refused_and_nothing_is_stored(session, two_buildings, change, error):
    _, small, _ = two_buildings
    fields = {"spent_on": DAY, "category": "cleaning", "amount_minor": 100} | change
    actor = bookkeeper_of(session, small, DAY)
    with pytest.raises(error):
        spend(
            session,
            small,
            fields.pop("amount_minor"),
            on=fields.pop("spent_on"),
            actor=actor,
            today=DAY,
            **fields,
        )
    assert _count(session, BuildingExpense) == 0


def test_an_expense_in_a_published_quarter_is_refused(session, two_buildings):
    company, small, _ = two_buildings
    frozen_quarter(session, small, company.id, 2026, 3)
    with pytest.raises(Conflict, match="2026-Q3"):
        spend(session, small, 100, on=DAY, today=date(2026, 10, 6))
    assert _count(session, BuildingExpense) == 0


def test_only_the_managing_companys_managers_book(session, two_buildings):
    _, small, _ = two_buildings
    other = staff(session, make_company(session))
    with pytest.raises(NotFound):
        spend(session, small, 100, on=DAY, actor=other)
    dispatcher = bookkeeper_of(session, small, DAY, Role.dispatcher)
    with pytest.raises(Forbidden):
        spend(session, small, 100, on=DAY, actor=dispatcher)
    assert spend(session, small, 100, on=DAY, actor=admin(session)).amount_minor == 100


def test_a_shared_split_with_a_building_of_another_company_books_nothing(session, two_buildings):
    _, small, _ = two_buildings
    foreign = make_building(session, make_company(session))
    make_apartment(session, foreign)
    with pytest.raises(NotFound):
        record_shared_expense(
            session,
            bookkeeper_of(session, small, DAY),
            building_ids=[small.id, foreign.id],
            expense=ExpenseInput(spent_on=DAY, category="lifts", amount_minor=100),
            today=DAY,
        )
    assert _count(session, BuildingExpense) == _count(session, SharedExpense) == 0


def test_a_correction_is_a_new_linked_expense_and_never_takes_one_below_zero(session, two_buildings):
    _, small, _ = two_buildings
    original = spend(session, small, 1_000, on=DAY)
    actor = bookkeeper_of(session, small, DAY)
    later = date(2026, 10, 2)
    fix = correct_expense(
        session, actor, expense_id=original.id, amount_minor=-400, reason="overbilled", today=later
    )
    assert (fix.corrects_id, fix.spent_on, fix.amount_minor, original.amount_minor) == (
        original.id,
        later,
        -400,
        1_000,
    )
    with pytest.raises(Invalid, match="below zero"):
        correct_expense(session, actor, expense_id=original.id, amount_minor=-601, reason="x", today=later)
    with pytest.raises(Invalid):
        correct_expense(session, actor, expense_id=original.id, amount_minor=-1, reason="  ", today=later)
    assert _count(session, BuildingExpense) == 2
