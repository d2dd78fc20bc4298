"""The demo city's expenses: what the demo manager's company spent on the demo resident's building
last quarter and this one, and a lift contract shared with its other buildings by area. Once: a
database that has expenses gets none. Booked through the service, as a manager would.
"""

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.building_money.models import BuildingExpense
from housing.building_money.rules import Quarter
from housing.building_money.service import ExpenseInput, record_expense, record_shared_expense
from housing.clock import local_today
from housing.db import session_scope
from housing.registry.models import Apartment
from housing.registry.queries import home_apartment_ids, managed_building_ids
from housing.registry.seeding import demo_username
from housing.settings import Settings

# (days into the quarter, category, UZS, supplier, what was done)
WORKS = [
    (4, "cleaning", 1_850_000, "Toza Hovli MChJ", "Stairs and entrances cleaned, month 1"),
    (12, "common_utilities", 640_000, "Hududiy elektr tarmoqlari", "Electricity of stairs and basement"),
    (33, "cleaning", 1_850_000, "Toza Hovli MChJ", "Stairs and entrances cleaned, month 2"),
    (47, "roof_and_repairs", 4_200_000, "Tom Usta", "Roof leak over flat 36 repaired"),
    (64, "cleaning", 1_850_000, "Toza Hovli MChJ", "Stairs and entrances cleaned, month 3"),
    (71, "materials", 310_000, "Qurilish bozori", "Bulbs and a door closer"),
]
SHARED_LIFT = (20, "lifts", 9_000_000, "Lift Servis MChJ", "Quarterly lift maintenance contract")


def _user(session: Session, role: Role) -> User | None:
    return session.exec(select(User).where(User.username == demo_username(role))).first()


def _book(session: Session, actor: Actor, building_id: int, quarter: Quarter, today: date) -> int:
    booked = 0
    for days, category, uzs, supplier, description in WORKS:
        day = quarter.first_day + timedelta(days=days)
        if day > today:
            continue
        expense = ExpenseInput(day, category, uzs * 100, supplier, description)
        record_expense(session, actor, building_id=building_id, expense=expense, today=today)
        booked += 1
    return booked


def seed_demo_expenses(engine: Engine, settings: Settings) -> str:
    with session_scope(engine) as session:
        if session.exec(select(BuildingExpense.id).limit(1)).first() is not None:
            return "demo expenses already there"
        manager, resident = _user(session, Role.manager), _user(session, Role.resident)
        if manager is None or resident is None or resident.person_id is None or manager.company_id is None:
            return "no demo users to book demo expenses"
        today = local_today(settings.timezone)
        homes = home_apartment_ids(resident.person_id, today).subquery()
        home = session.exec(
            select(Apartment.building_id).where(col(Apartment.id).in_(select(homes.c.apartment_id)))
        ).first()
        if home is None:
            return "the demo resident has no home to book demo expenses on"
        actor = Actor.of(manager)
        now = Quarter.of(today)
        booked = _book(session, actor, home, now.previous(), today) + _book(session, actor, home, now, today)
        buildings = list(session.exec(managed_building_ids(manager.company_id, today).limit(5)).all())
        days, category, uzs, supplier, description = SHARED_LIFT
        day = min(today, now.previous().first_day + timedelta(days=days))
        shared = home in buildings and len(buildings) >= 2
        if shared:
            record_shared_expense(
                session,
                actor,
                building_ids=buildings,
                expense=ExpenseInput(day, category, uzs * 100, supplier, description),
                today=today,
            )
    lift = ", and a lift contract shared by area" if shared else ""
    return f"{booked} demo expenses booked on the demo resident's building{lift}"
