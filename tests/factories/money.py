"""Factories for a building's money: a company's manager, expenses, a published report's row."""

from datetime import date

from sqlmodel import Session

from housing.accounts.models import Role
from housing.actors import Actor
from housing.building_money.models import BuildingExpense
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
