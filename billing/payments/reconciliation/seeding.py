"""The demo's payments through Payme and Click yesterday, Payme's statement of the day with one
planted difference, and the day reconciled, so that a newcomer finds a difference on
/console/payments/reconciliation and the payments per provider on /console/payments/daily.

Once: a database with a provider's statement line gets none. Made by the merchant verbs, as the
providers' calls would make them (opened, performed, one cancelled after perform), at
yesterday's moments; the statement is imported as an admin's file would be.
"""

import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from billing.models import Gateway, ProviderStatementLine
from billing.payments import merchant
from billing.payments.reconciliation.service import reconcile_day
from billing.payments.reconciliation.statement import import_provider_statement
from housing.accounts.models import Role, User
from housing.clock import local_today
from housing.db import session_scope
from housing.registry.models import Apartment
from housing.registry.queries import home_apartment_ids
from housing.registry.seeding import demo_username
from housing.settings import Settings

SKIPPED_EVERY = 8  # the demo's debtors (apartment id % 8 == 3) keep their debt and their instalment plan
# (gateway, transaction id, apartment's place in the building, amount in tiyin, local hour paid, cancelled at)
PAYMENTS = (
    (Gateway.payme, "demo-payme-1", 0, 15_000_000, time(9, 20), None),
    (Gateway.payme, "demo-payme-2", 1, 32_050_000, time(11, 5), None),
    (Gateway.payme, "demo-payme-3", 2, 8_000_000, time(13, 40), time(15, 10)),  # refunded the same day
    (Gateway.click, "demo-click-1", 3, 21_000_000, time(10, 15), None),
    (Gateway.click, "demo-click-2", 4, 12_500_000, time(18, 30), None),
)
PLANTED = "demo-payme-9"  # in Payme's statement, never heard of by us: the planted difference


def seed_demo_gateway_payments(engine: Engine, settings: Settings) -> str:
    with session_scope(engine) as session:
        if session.exec(select(ProviderStatementLine.id).limit(1)).first() is not None:
            return "demo Payme and Click payments already there"
        flats = _demo_flats(session, settings)
        if len(flats) < len(PAYMENTS):
            return "no demo Payme and Click payments: the demo resident's building has too few flats"
        zone = ZoneInfo(settings.timezone)
        yesterday = local_today(settings.timezone) - timedelta(days=1)
        lines = {Gateway.payme: [], Gateway.click: []}
        for gateway, external_id, place, amount, paid, cancelled in PAYMENTS:
            flat = flats[place]
            moment = datetime.combine(yesterday, paid, zone)
            attempt, _ = merchant.open_transaction(
                session,
                gateway,
                external_id=external_id,
                account_number=flat.account_number,
                amount_minor=amount,
                limits=merchant.limits_of(settings, gateway),
                provider_time=moment - timedelta(minutes=1),
                now=moment - timedelta(minutes=1),
            )
            merchant.perform_transaction(session, attempt, now=moment)
            state, when = "performed", moment
            if cancelled is not None:
                when = datetime.combine(yesterday, cancelled, zone)
                merchant.cancel_transaction(session, attempt, reason=5, now=when)
                state = "refunded"
            lines[gateway].append((external_id, when, amount, flat.account_number, state))
        planted_at = datetime.combine(yesterday, time(19, 55), zone)
        lines[Gateway.payme].append((PLANTED, planted_at, 5_000_000, flats[0].account_number, "performed"))
        admin = session.exec(select(User).where(User.username == demo_username(Role.admin))).first()
        for gateway in (Gateway.payme, Gateway.click):
            import_provider_statement(
                session,
                statement_file(lines[gateway]),
                gateway=gateway,
                apartments=None,
                user_id=admin.id if admin else None,
                timezone=settings.timezone,
                now=datetime.combine(yesterday + timedelta(days=1), time(0, 30), zone),
            )
        for gateway in Gateway:
            reconcile_day(
                session,
                gateway,
                yesterday,
                timezone=settings.timezone,
                now=datetime.combine(yesterday + timedelta(days=1), time(6), zone),
            )
    return (
        f"{len(PAYMENTS)} Payme and Click payments made yesterday ({yesterday}) in the demo resident's building,"
        " one cancelled after perform; Payme's and Click's statements of the day imported, with one"
        " transaction only Payme knows of: the day's reconciliation lists it"
    )


def _demo_flats(session: Session, settings: Settings) -> list[Apartment]:
    """The demo resident's home first, then other flats of the building (not the demo's debtors)."""
    resident = session.exec(select(User).where(User.username == demo_username(Role.resident))).first()
    if resident is None or resident.person_id is None:
        return []
    homes = home_apartment_ids(resident.person_id, local_today(settings.timezone)).subquery()
    home = session.exec(select(Apartment).where(col(Apartment.id).in_(select(homes.c.apartment_id)))).first()
    if home is None:
        return []
    others = session.exec(
        select(Apartment)
        .where(Apartment.building_id == home.building_id, Apartment.id != home.id)
        .order_by(col(Apartment.id))
    ).all()
    return [home, *[a for a in others if a.id % SKIPPED_EVERY != 3]][: len(PAYMENTS)]


def statement_file(lines: list[tuple[str, datetime, int, str, str]]) -> io.StringIO:
    """A provider's statement CSV (docs/reconciliation.md) of (id, moment, tiyin, account, state) lines."""
    rows = ["transaction_id,time,amount,account_number,state"]
    rows += [
        f"{external_id},{moment.isoformat(timespec='seconds')},{amount // 100}.{amount % 100:02d},{account},{state}"
        for external_id, moment, amount, account, state in lines
    ]
    return io.StringIO("\n".join(rows) + "\n", newline="")
