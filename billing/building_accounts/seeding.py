"""The demo city's building money after billing: the demo resident's building billed and mostly
paid over the last complete quarter, its report on that quarter published (so residents read
what their money bought), the company's other buildings left late (so officials see a late
report), and an instalment plan agreed with one of the building's debtors.

Once: a database that has a report gets none. The last quarter's months are billed as the
monthly job would have billed them, each at the start of the next month: the one clock
(`housing.clock.now`) is set to that moment while it runs, so the invoices, their charges and
notices carry the dates they would have had. This is seeding only, before the demo serves.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from billing.building_accounts.reports import publish_report
from billing.instalments.service import agree_plan
from billing.ledger.service import unpaid_by_invoice
from billing.models import Gateway, Invoice
from billing.payments.service import noon_utc, record_manual_payment
from billing.rules import BillingRules
from billing.runs.service import run_billing
from housing import clock
from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.building_money.models import BuildingReport
from housing.building_money.rules import Quarter
from housing.clock import local_today
from housing.db import session_scope
from housing.registry.models import Apartment
from housing.registry.queries import home_apartment_ids
from housing.registry.seeding import demo_username
from housing.settings import Settings

UNPAID_EVERY = 8  # one account in eight left its last quarter unpaid: the debt the report shows


@contextmanager
def _clock_at(moment: datetime) -> Iterator[None]:
    real = clock.now
    clock.now = lambda: moment
    try:
        yield
    finally:
        clock.now = real


def _user(session: Session, role: Role) -> User | None:
    return session.exec(select(User).where(User.username == demo_username(role))).first()


def seed_demo_reports(engine: Engine, settings: Settings) -> str:
    with session_scope(engine) as session:
        if session.exec(select(BuildingReport.id).limit(1)).first() is not None:
            return "demo reports already there"
        manager, resident = _user(session, Role.manager), _user(session, Role.resident)
        if manager is None or resident is None or resident.person_id is None:
            return "no demo users to publish a demo report"
        today = local_today(settings.timezone)
        homes = home_apartment_ids(resident.person_id, today).subquery()
        home = session.exec(
            select(Apartment).where(col(Apartment.id).in_(select(homes.c.apartment_id)))
        ).first()
        quarter = Quarter.of(today).previous()
        if home is None or quarter < settings.money.first_quarter:
            return "no demo report: the demo resident has no home, or no quarter is due yet"
        apartment_ids = list(
            session.exec(select(Apartment.id).where(Apartment.building_id == home.building_id))
        )
        _bill_quarter(session, settings, quarter, apartment_ids)
        paid = _pay(session, quarter, apartment_ids, keep=home.id, today=today)
        day = min(quarter.end + timedelta(days=12), today)
        actor = Actor.of(manager)
        report = publish_report(
            session,
            actor,
            building_id=home.building_id,
            quarter=quarter,
            today=day,
            now=datetime.combine(day, time(9), UTC),
            settings=settings,
        )
        plan = _plan(
            session, actor, quarter, apartment_ids, keep=home.id, today=today, timezone=settings.timezone
        )
    return (
        f"{quarter} billed and {paid} invoices paid in the demo resident's building; its report published"
        f" (income {report.income_minor / 100:,.0f} UZS, expenses {report.expenses_minor / 100:,.0f} UZS);"
        f" the company's other buildings are late; {plan}"
    )


def _bill_quarter(session: Session, settings: Settings, quarter: Quarter, apartment_ids: list[int]) -> None:
    rules = BillingRules.from_settings(settings)
    month = quarter.first_day
    while month < quarter.end:
        issued_on = clock.add_months(month, 1)
        with _clock_at(datetime.combine(issued_on, time(3), UTC)):
            run_billing(
                session,
                period=month,
                today=issued_on,
                apartment_ids=apartment_ids,
                timezone=settings.timezone,
                rules=rules,
            )
        month = issued_on


def _pay(session: Session, quarter: Quarter, apartment_ids: list[int], *, keep: int, today) -> int:
    """Most accounts pay each invoice a few days before it is due; one in eight pays nothing."""
    invoices = session.exec(
        select(Invoice).where(
            col(Invoice.apartment_id).in_(apartment_ids),
            Invoice.period >= quarter.first_day,
            Invoice.period < quarter.end,
        )
    ).all()
    paid = 0
    for invoice in invoices:
        if invoice.apartment_id % UNPAID_EVERY == 3 and invoice.apartment_id != keep:
            continue
        record_manual_payment(
            session,
            apartment_id=invoice.apartment_id,
            amount_minor=invoice.total_minor,
            gateway=Gateway.office,
            reference=f"demo-{invoice.number}",
            paid_at=noon_utc(min(invoice.due_date - timedelta(days=3), today)),
            user_id=None,
        )
        paid += 1
    return paid


def _plan(
    session: Session,
    actor: Actor,
    quarter: Quarter,
    apartment_ids: list[int],
    *,
    keep: int,
    today,
    timezone: str,
) -> str:
    debtors = [i for i in apartment_ids if i % UNPAID_EVERY == 3 and i != keep]
    owed = unpaid_by_invoice(session, debtors[:1])
    if not owed:
        return "no debtor for a demo instalment plan"
    total = sum(owed.values())
    first = total // 2
    plan = agree_plan(
        session,
        actor,
        apartment_id=debtors[0],
        invoice_ids=sorted(owed),
        schedule=[(today + timedelta(days=20), first), (today + timedelta(days=50), total - first)],
        note="Agreed at the office: two instalments",
        today=today,
        timezone=timezone,
    )
    return f"an instalment plan agreed with apartment {plan.apartment_id}"
