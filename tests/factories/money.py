"""Factories for a building's money: a company's manager, expenses, a published report's row."""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import Session

from housing.accounts.models import Role
from housing.actors import Actor
from housing.building_money.models import BuildingExpense, BuildingReport
from housing.building_money.service import ExpenseInput, company_managing, record_expense
from housing.registry.models import Building
from tests.factories.core import make_user


def bookkeeper_of(session: Session, building: Building, day: date, role: Role = Role.manager) -> Actor:
    """A user of the company managing `building` on `day`."""
    return Actor.of(make_user(session, role, company_id=company_managing(session, building.id, day)))


def spend(
    session: Session,
    building: Building,
    amount_minor: int,
    *,
    on: date,
    category: str = "cleaning",
    actor: Actor | None = None,
    today: date | None = None,
    **kw,
) -> BuildingExpense:
    """An expense booked through the service, by the building's manager on that day."""
    actor = actor or bookkeeper_of(session, building, on)
    return record_expense(
        session,
        actor,
        building_id=building.id,
        expense=ExpenseInput(spent_on=on, category=category, amount_minor=amount_minor, **kw),
        today=today or on,
    )


def frozen_quarter(
    session: Session, building: Building, company_id: int, year: int, quarter: int
) -> BuildingReport:
    """A published report's row whose figures do not matter (all zero, no lines): the quarter is
    frozen. Flushed, not committed."""
    report = BuildingReport(
        building_id=building.id,
        company_id=company_id,
        year=year,
        quarter=quarter,
        area_m2=Decimal(1),
        opening_balance_minor=0,
        income_minor=0,
        expenses_minor=0,
        closing_balance_minor=0,
        collected_to_date_minor=0,
        debt_minor=0,
        accounts_in_debt=0,
        accounts=0,
        due_on=date(2026, 10, 30),
        on_time=True,
        published_at=datetime(2026, 10, 5, tzinfo=UTC),
    )
    session.add(report)
    session.flush()
    return report
