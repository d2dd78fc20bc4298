"""Instalment plans over time: agreed after penalties began, kept (no penalty while it holds),
missed (penalties resume the day after the missed due day, the resident told once), and the
same ledger whether the penalty job ran every day or caught up later, before or after the
plans' job. Then the refusals, which store nothing."""

import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from billing.instalments import service
from billing.instalments.jobs import instalment_plans
from billing.jobs import DAILY_PENALTIES, daily_penalties
from billing.ledger.plans import PlanState
from billing.models import (
    Instalment,
    InstalmentPlan,
    InstalmentPlanInvoice,
    LedgerEntry,
    LedgerKind,
    PlanStatus,
)
from housing.accounts.models import Role
from housing.actors import Actor
from housing.catchup import service as catchup
from housing.db import is_postgres
from housing.errors import Conflict, Forbidden, Invalid, NotFound
from housing.notifications.models import Notification
from housing.settings import Settings
from tests.factories.billing import make_billed_invoice, make_ledger_entry
from tests.factories.core import make_apartment, make_building, make_user
from tests.factories.meetings import admin, staff
from tests.factories.requests import make_resident

TASHKENT = ZoneInfo("Asia/Tashkent")
DUE = date(2026, 11, 15)  # the October invoice's
AGREED = date(2026, 11, 20)
FIRST, SECOND = date(2026, 12, 10), date(2027, 1, 10)
D = timedelta(days=1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), TASHKENT)


class Account:
    """A debtor's account: October's 1,000,000 unpaid, a resident, the company's manager."""

    def __init__(self, session: Session) -> None:
        building = make_building(session)
        self.apartment = make_apartment(session, building)
        self.resident = make_resident(session, self.apartment)
        self.invoice = make_billed_invoice(session, self.apartment, 1_000_000)
        self.manager = staff(session, building_company(session, building.id))
        self.building = building

    def pay(self, session: Session, day: date, amount: int) -> None:
        make_ledger_entry(
            session, self.apartment, kind=LedgerKind.payment, amount_minor=-amount, occurred_at=at(day)
        )


def building_company(session: Session, building_id: int) -> int:
    from housing.registry.service import management_history

    return management_history(session, building_id)[-1].company_id


def agree(session: Session, account: Account, frozen_clock, schedule=None, **kw):
    frozen_clock.set(at(AGREED, 10))
    return service.agree_plan(
        session,
        kw.pop("actor", account.manager),
        apartment_id=account.apartment.id,
        invoice_ids=kw.pop("invoice_ids", None),
        schedule=[(FIRST, 500_000), (SECOND, 500_000)] if schedule is None else schedule,
        note="agreed at the office",
        today=AGREED,
        **kw,
    )


def penalties(session: Session, apartment_id: int) -> list[tuple[date, int]]:
    rows = session.exec(
        select(LedgerEntry.occurred_at, LedgerEntry.amount_minor)
        .where(LedgerEntry.apartment_id == apartment_id, LedgerEntry.kind == LedgerKind.penalty)
        .order_by(LedgerEntry.occurred_at)
    ).all()
    return [(moment.date(), amount) for moment, amount in rows]


def notices(session: Session, kind: str) -> int:
    return session.exec(select(func.count()).select_from(Notification).where(Notification.kind == kind)).one()


def run_days(db: Engine, settings: Settings, first: date, last: date, order: str) -> None:
    """The two jobs over the days: every day (penalties first, or the plans' job first), or
    once at the end (catch-up)."""
    if order == "catch-up":
        instalment_plans(db, settings, today=last)
        daily_penalties(db, settings, today=last)
        return
    day = first
    while day <= last:
        if order == "plans first":
            instalment_plans(db, settings, today=day)
        daily_penalties(db, settings, today=day)
        if order == "penalties first":
            instalment_plans(db, settings, today=day)
        day += D


ORDERS = ["penalties first", "plans first", "catch-up"]


@pytest.mark.parametrize("order", ORDERS)
def test_a_kept_plan_stops_penalties_from_the_day_after_it_was_agreed(
    db: Engine, settings: Settings, frozen_clock, order: str
):
    with Session(db, expire_on_commit=False) as session:
        account = Account(session)
        catchup.mark_done(session, DAILY_PENALTIES, DUE)
        session.commit()
        daily_penalties(db, settings, today=AGREED)  # the 16th to the 20th, before the plan
        plan = agree(session, account, frozen_clock)
        account.pay(session, FIRST, 500_000)
        account.pay(session, SECOND - D, 500_000)
        session.commit()

    run_days(db, settings, AGREED + D, SECOND + 5 * D, order)

    with Session(db) as session:
        # 0.1% of 1,000,000 on the 16th..20th; nothing while the plan held; paid off since.
        assert penalties(session, account.apartment.id) == [(DUE + n * D, 1_000) for n in range(1, 6)]
        stored = session.get(InstalmentPlan, plan.id)
        assert (stored.status, stored.ended_on) == (PlanStatus.kept, SECOND)
        assert notices(session, "instalment_agreed") == 1
        assert notices(session, "instalment_kept") == 1
        assert notices(session, "instalment_missed") == 0


@pytest.mark.parametrize("order", ORDERS)
def test_a_missed_instalment_ends_the_plan_and_penalties_resume_the_day_after_its_due_day(
    db: Engine, settings: Settings, frozen_clock, order: str
):
    with Session(db, expire_on_commit=False) as session:
        account = Account(session)
        catchup.mark_done(session, DAILY_PENALTIES, AGREED)
        plan = agree(session, account, frozen_clock)
        account.pay(session, FIRST, 400_000)  # 100,000 short
        session.commit()

    run_days(db, settings, AGREED + D, FIRST + 3 * D, order)
    instalment_plans(db, settings, today=FIRST + 4 * D)  # again: the resident is told once

    with Session(db) as session:
        # The overdue 600,000 at 0.1% from the 11th, the day after the missed due day.
        assert penalties(session, account.apartment.id) == [(FIRST + n * D, 600) for n in range(1, 4)]
        stored = session.get(InstalmentPlan, plan.id)
        assert (stored.status, stored.ended_on) == (PlanStatus.missed, FIRST + D)
        assert notices(session, "instalment_missed") == 1
        [missed] = session.exec(select(Notification).where(Notification.kind == "instalment_missed")).all()
        assert missed.user_id == account.resident.id
        assert missed.params["due"] == FIRST.isoformat() and missed.params["amount_minor"] == 500_000


def test_a_payment_keyed_in_late_with_an_earlier_date_does_not_revive_a_missed_plan(
    db: Engine, settings: Settings, frozen_clock
):
    with Session(db, expire_on_commit=False) as session:
        account = Account(session)
        catchup.mark_done(session, DAILY_PENALTIES, AGREED)
        plan = agree(session, account, frozen_clock)
        session.commit()
    run_days(db, settings, AGREED + D, FIRST + 2 * D, "penalties first")  # missed: the resident is told
    with Session(db, expire_on_commit=False) as session:
        account.pay(session, FIRST, 500_000)  # the office books the first instalment late, dated on time
        session.commit()
    run_days(db, settings, FIRST + 3 * D, FIRST + 4 * D, "penalties first")
    with Session(db) as session:
        stored = session.get(InstalmentPlan, plan.id)
        view = service.plan_view(session, stored, FIRST + 5 * D)
        assert (stored.status, view.standing.state) == (PlanStatus.missed, PlanStatus.missed)
        # penalties go on after the end the resident was told of, on what is still overdue
        assert [day for day, _ in penalties(session, account.apartment.id)] == [
            FIRST + n * D for n in range(1, 5)
        ]
        assert notices(session, "instalment_missed") == 1


def test_a_cancelled_plan_spares_its_day_and_penalties_resume_the_next(
    session: Session, settings: Settings, frozen_clock
):
    account = Account(session)
    plan = agree(session, account, frozen_clock)
    cancelled_on = AGREED + 3 * D
    service.cancel_plan(session, account.manager, plan_id=plan.id, today=cancelled_on)
    from billing.ledger.service import accrue_penalties
    from housing import clock

    for n in range(1, 6):
        day = AGREED + n * D
        accrue_penalties(session, today=day, as_of=clock.local_midnight(day, settings.timezone))

    assert [day for day, _ in penalties(session, account.apartment.id)] == [
        cancelled_on + D,
        cancelled_on + 2 * D,
    ]
    assert (plan.status, plan.ended_on) == (PlanStatus.cancelled, cancelled_on + D)
    with pytest.raises(Conflict):
        service.cancel_plan(session, account.manager, plan_id=plan.id, today=cancelled_on)
    # A new plan may be agreed once it no longer holds.
    view = service.plan_view(session, plan, cancelled_on + D)
    assert view.standing.state is PlanState.cancelled


def stored_rows(session: Session) -> tuple[int, int, int, int]:
    return tuple(
        session.exec(select(func.count()).select_from(model)).one()
        for model in (InstalmentPlan, Instalment, InstalmentPlanInvoice, Notification)
    )


@pytest.mark.parametrize(
    ("schedule", "field", "words"),
    [
        ([(FIRST, 500_000), (SECOND, 499_999)], "schedule", "add up to 999999"),
        ([(FIRST, 1_000_001)], "schedule", "add up to 1000001"),
        ([(AGREED, 1_000_000)], "schedule", "after today"),
        ([(SECOND, 500_000), (FIRST, 500_000)], "schedule", "after instalment 1"),
        ([(FIRST, 0), (SECOND, 1_000_000)], "schedule", "more than zero"),
        ([(FIRST, -1), (SECOND, 1_000_001)], "schedule", "more than zero"),
        ([], "schedule", "at least one"),
        ([(FIRST + n * D, 1) for n in range(61)], "schedule", "at most 60"),
        ([(FIRST, 10**18), (SECOND, -(10**18) + 1_000_000)], "schedule", "more than zero"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_is_stored(
    session: Session, frozen_clock, schedule, field, words
):
    account = Account(session)
    before = stored_rows(session)
    with pytest.raises(Invalid) as refused:
        agree(session, account, frozen_clock, schedule=schedule)
    assert refused.value.field == field and words in str(refused.value)
    assert stored_rows(session) == before


def test_who_may_agree_and_what_it_may_cover(session: Session, frozen_clock):
    account = Account(session)
    other = Account(session)
    before = stored_rows(session)
    with pytest.raises(NotFound):  # another company's manager does not see the apartment
        agree(session, account, frozen_clock, actor=other.manager)
    with pytest.raises(Forbidden):  # the resident sees it but does not agree plans
        agree(session, account, frozen_clock, actor=Actor.of(account.resident))
    dispatcher = staff(session, building_company(session, account.building.id), Role.dispatcher)
    with pytest.raises(Forbidden):
        agree(session, account, frozen_clock, actor=dispatcher)
    official = Actor.of(make_user(session, Role.official))
    with pytest.raises(Forbidden):
        agree(session, account, frozen_clock, actor=official)
    with pytest.raises(Invalid) as refused:  # another account's invoice
        agree(session, account, frozen_clock, invoice_ids=[other.invoice.id])
    assert refused.value.field == "invoice_ids"
    with pytest.raises(Invalid):
        agree(session, account, frozen_clock, invoice_ids=[])
    assert stored_rows(session) == before

    plan = agree(session, account, frozen_clock, actor=admin(session), invoice_ids=[account.invoice.id])
    assert plan.covered_minor == 1_000_000
    with pytest.raises(Conflict):  # one plan in force per account
        agree(session, account, frozen_clock)


def test_a_paid_account_has_nothing_to_spread(session: Session, frozen_clock):
    account = Account(session)
    account.pay(session, DUE, 1_000_000)
    with pytest.raises(Conflict):
        agree(session, account, frozen_clock)
    assert session.exec(select(func.count()).select_from(InstalmentPlan)).one() == 0


def test_two_managers_agreeing_at_once_make_one_plan(db: Engine, frozen_clock):
    if not is_postgres(db):
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time anyway")
    with Session(db, expire_on_commit=False) as session:
        account = Account(session)
        second = staff(session, building_company(session, account.building.id))
        session.commit()
    frozen_clock.set(at(AGREED, 10))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def agree_as(actor: Actor) -> None:
        with Session(db) as session:
            barrier.wait()
            try:
                service.agree_plan(
                    session,
                    actor,
                    apartment_id=account.apartment.id,
                    invoice_ids=None,
                    schedule=[(FIRST, 1_000_000)],
                    today=AGREED,
                )
                session.commit()
                outcomes.append("agreed")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=agree_as, args=(actor,)) for actor in (account.manager, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["agreed", "conflict"]
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(InstalmentPlan)).one() == 1
        assert session.exec(select(func.count()).select_from(Instalment)).one() == 1


def test_the_plans_job_logs_a_failing_plan_records_the_others_and_the_next_run_records_it(
    db: Engine, settings: Settings, frozen_clock, monkeypatch, caplog
):
    import logging

    import billing.instalments.jobs as plan_jobs
    from tests.faults import fail_when

    with Session(db, expire_on_commit=False) as session:
        accounts = [Account(session) for _ in range(3)]
        plans = [agree(session, account, frozen_clock) for account in accounts]
        session.commit()  # nobody pays: all three are missed on the 11th
    doomed = plans[1].id
    real = fail_when(monkeypatch, plan_jobs, "record_outcome", lambda session, plan_id, *a: plan_id == doomed)

    with caplog.at_level(logging.ERROR, logger="billing.instalments.jobs"):
        first = instalment_plans(db, settings, today=FIRST + D)

    assert first.endswith("3 active, 0 kept, 2 missed, 1 failed (left for the next run)")
    assert [r for r in caplog.records if f"plan {doomed} failed" in r.getMessage()]
    with Session(db) as session:
        assert [session.get(InstalmentPlan, plan.id).status for plan in plans] == [
            PlanStatus.missed,
            PlanStatus.active,
            PlanStatus.missed,
        ]
        assert catchup.done_through(session, "instalment-plans") is None  # not finished
    monkeypatch.setattr(plan_jobs, "record_outcome", real)
    second = instalment_plans(db, settings, today=FIRST + 3 * D)
    assert second.endswith("1 active, 0 kept, 1 missed")
    with Session(db) as session:
        stored = session.get(InstalmentPlan, doomed)
        assert (stored.status, stored.ended_on) == (PlanStatus.missed, FIRST + D)  # the day it ended
        assert notices(session, "instalment_missed") == 3
