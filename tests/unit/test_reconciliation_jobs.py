"""Reconciling days in the database: `reconcile_day` on payments of every gateway made by their own
verbs, the daily totals by the same day rule, and the `reconcile-gateways` job over missed days,
twice, with a failing day and abandoned checkouts. Runs on SQLite and PostgreSQL."""

import io
import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, delete, select

from billing.models import (
    Gateway,
    LedgerEntry,
    LedgerKind,
    PaymentAttempt,
    PaymentStatus,
    ReconciliationDifference,
    ReconciliationRun,
)
from billing.payments import merchant
from billing.payments.reconciliation import daily, jobs, service
from billing.payments.reconciliation.queries import visible_differences
from billing.payments.reconciliation.rules import Kind
from billing.payments.reconciliation.seeding import PLANTED, seed_demo_gateway_payments
from billing.payments.reconciliation.statement import import_provider_statement
from housing import clock
from housing.accounts.models import Role, User
from housing.actors import Actor
from housing.catchup import service as catchup
from housing.db import session_scope
from housing.registry.seeding import demo_username, ensure_demo_city, reset_demo_users
from housing.scheduler import CALENDAR, JOBS, run_job
from housing.settings import Settings
from tests.concurrency import run_together
from tests.conftest import FrozenClock
from tests.factories.core import make_apartment, make_building, make_company, make_owner, make_user
from tests.factories.reconciliation import bank_payment, card_payment, provider_payment, statement_csv

TZ = ZoneInfo("Asia/Tashkent")
POSTGRES = "postgresql" in (os.environ.get("HOUSING_TEST_DATABASE_URL") or "")
DAY = date(2026, 11, 3)


def statement_csv_text(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ)


def differences(session: Session, gateway: Gateway | None = None, day: date | None = None) -> list[tuple]:
    query = select(ReconciliationDifference).order_by(ReconciliationDifference.id)
    if gateway is not None:
        query = query.where(ReconciliationDifference.gateway == gateway)
    if day is not None:
        query = query.where(ReconciliationDifference.day == day)
    return [
        (
            d.id,
            d.gateway,
            d.day,
            d.kind,
            d.external_id,
            d.payment_attempt_id,
            d.ours_minor,
            d.theirs_minor,
            d.detail,
        )
        for d in session.exec(query)
    ]


def runs(session: Session) -> list[tuple]:
    return [
        (r.id, r.gateway, r.day, r.payments, r.paid_minor, r.refunded_minor, r.statement_lines, r.differences)
        for r in session.exec(
            select(ReconciliationRun).order_by(ReconciliationRun.day, ReconciliationRun.gateway)
        )
    ]


class Town:
    """Two companies' flats and a day of payments through every gateway, some of them wrong."""

    def __init__(self, session: Session, clock: FrozenClock) -> None:
        self.session = session
        building_a = make_building(session, make_company(session, name="Yunusobod Servis"))
        building_b = make_building(session, make_company(session, name="Chilonzor Uy-Joy"))
        self.a1 = make_apartment(session, building_a)
        self.a2 = make_apartment(session, building_a)
        self.b1 = make_apartment(session, building_b)
        self.payme_ok = provider_payment(session, Gateway.payme, self.a1, "p-ok", 15_000_000, at(DAY, 10))
        self.payme_back = provider_payment(
            session,
            Gateway.payme,
            self.a2,
            "p-back",
            5_000_000,
            at(DAY - timedelta(days=1), 12),
            cancel_at=at(DAY, 11),
        )
        self.click_ok = provider_payment(session, Gateway.click, self.a2, "c-ok", 7_000_000, at(DAY, 15))
        self.click_diff = provider_payment(session, Gateway.click, self.b1, "c-diff", 9_000_000, at(DAY, 16))
        clock.at(DAY, 9)
        self.card = card_payment(session, self.a1, "pi_town", 3_000_000)
        self.bank = bank_payment(session, self.a2, "BANK-1", 4_000_000, at(DAY, 12))
        self.office = bank_payment(
            session, self.b1, "OFFICE-1", 2_000_000, at(DAY, 13), gateway=Gateway.office
        )
        self.office.created_at = at(DAY, 13)
        session.add(self.office)
        session.exec(delete(LedgerEntry).where(LedgerEntry.payment_attempt_id == self.office.id))
        clock.at(DAY + timedelta(days=1), 8)
        payme = statement_csv(
            ("p-ok", "2026-11-03T10:00:00+05:00", "150000.00", self.a1.account_number, "performed"),
            ("p-back", "2026-11-03T11:00:00+05:00", "50000", self.a2.account_number, "refunded"),
            ("p-ghost", "2026-11-03T12:30:00+05:00", "1000.50", "NOBODY-1", "performed"),
        )
        click = statement_csv(
            ("c-ok", "2026-11-03T15:00:00+05:00", "70000", self.a2.account_number, "performed"),
            ("c-diff", "2026-11-03T16:00:00+05:00", "90001", self.b1.account_number, "performed"),
        )
        for gateway, file in ((Gateway.payme, payme), (Gateway.click, click)):
            import_provider_statement(
                session,
                file,
                gateway=gateway,
                apartments=None,
                user_id=None,
                timezone="Asia/Tashkent",
                now=clock.moment,
            )
        session.commit()


@pytest.fixture
def town(session: Session, frozen_clock: FrozenClock) -> Town:
    return Town(session, frozen_clock)


def reconcile_all(session: Session, day: date = DAY) -> None:
    for gateway in Gateway:
        service.reconcile_day(
            session, gateway, day, timezone="Asia/Tashkent", now=at(day + timedelta(days=1), 6)
        )
    session.commit()


def test_a_day_of_every_gateway_lists_each_planted_difference_and_nothing_else(session: Session, town: Town):
    reconcile_all(session)
    found = {(d[1], d[3], d[4]) for d in differences(session)}
    assert found == {
        (Gateway.payme, Kind.missing_in_ours, "p-ghost"),
        (Gateway.click, Kind.amount_differs, "c-diff"),
        (Gateway.office, Kind.not_booked, "OFFICE-1"),
    }
    figures = {r[1]: r[3:] for r in runs(session)}
    assert figures == {
        Gateway.payme: (1, 15_000_000, 5_000_000, 3, 1),  # p-back was paid the day before
        Gateway.click: (2, 16_000_000, 0, 2, 1),
        Gateway.stripe: (1, 3_000_000, 0, None, 0),
        Gateway.bank: (1, 4_000_000, 0, None, 0),
        Gateway.office: (1, 2_000_000, 0, None, 1),
    }
    ghost = session.exec(
        select(ReconciliationDifference).where(ReconciliationDifference.external_id == "p-ghost")
    ).one()
    assert ghost.apartment_id is None and ghost.theirs_minor == 100_050
    diff = session.exec(
        select(ReconciliationDifference).where(ReconciliationDifference.external_id == "c-diff")
    ).one()
    assert (diff.apartment_id, diff.ours_minor, diff.theirs_minor) == (town.b1.id, 9_000_000, 9_000_100)


def test_reconciling_a_day_again_keeps_the_same_rows(session: Session, town: Town):
    reconcile_all(session)
    before = (differences(session), [r[1:] for r in runs(session)], [r[0] for r in runs(session)])
    reconcile_all(session)
    assert (differences(session), [r[1:] for r in runs(session)], [r[0] for r in runs(session)]) == before


def test_a_difference_put_right_goes_and_a_new_one_comes(session: Session, town: Town, frozen_clock):
    reconcile_all(session)
    kept = [d for d in differences(session) if d[3] != Kind.not_booked]
    bank_payment(session, town.b1, "OFFICE-2", 1_000, at(DAY, 17), gateway=Gateway.office)
    session.exec(delete(ReconciliationDifference).where(ReconciliationDifference.kind == "nothing"))
    # The missing office entry booked after all; a card payment booked twice.
    from billing.ledger.service import post_entry

    post_entry(
        session, apartment_id=town.b1.id, kind=LedgerKind.payment, amount_minor=-2_000_000,
        payment_attempt_id=town.office.id, occurred_at=at(DAY, 13), dedupe_key="fixed",
    )  # fmt: skip
    post_entry(
        session, apartment_id=town.a1.id, kind=LedgerKind.payment, amount_minor=-3_000_000,
        payment_attempt_id=town.card.id, occurred_at=at(DAY, 9, 5), dedupe_key="again",
    )  # fmt: skip
    reconcile_all(session)
    now = differences(session)
    assert [d for d in now if d[0] in {k[0] for k in kept}] == kept  # untouched rows keep their ids
    assert {(d[1], d[3]) for d in now} == {
        (Gateway.payme, Kind.missing_in_ours),
        (Gateway.click, Kind.amount_differs),
        (Gateway.stripe, Kind.booked_twice),
    }


def test_the_daily_totals_count_the_days_payments_as_the_runs_do(session: Session, town: Town):
    reconcile_all(session)
    totals = daily.daily_totals(session, DAY - timedelta(days=1), DAY, timezone="Asia/Tashkent")
    by_key = {(t.day, t.gateway): (t.payments, t.paid_minor, t.refunded_minor) for t in totals}
    checked = session.exec(select(ReconciliationRun).where(ReconciliationRun.gateway != Gateway.office)).all()
    assert {(r.day, r.gateway) for r in checked} >= {(DAY, g) for g in Gateway if g is not Gateway.office}
    for run in checked:
        assert by_key[(run.day, run.gateway)] == (run.payments, run.paid_minor, run.refunded_minor)
    assert by_key[(DAY - timedelta(days=1), Gateway.payme)] == (
        1,
        5_000_000,
        0,
    )  # p-back, reconciled on import
    assert (DAY, Gateway.office) not in by_key  # its entry is missing: the ledger's figures say none
    mine = daily.daily_totals(
        session,
        DAY,
        DAY,
        timezone="Asia/Tashkent",
        apartments=select(type(town.b1)).where(type(town.b1).id == town.b1.id),
    )
    assert [(t.gateway, t.payments, t.paid_minor) for t in mine] == [(Gateway.click, 1, 9_000_000)]
    per_company = daily.daily_totals(
        session, DAY, DAY, timezone="Asia/Tashkent", by_company=True, by_day=False
    )
    assert {(t.company_name, t.gateway): t.paid_minor for t in per_company} == {
        ("Chilonzor Uy-Joy", Gateway.click): 9_000_000,
        ("Yunusobod Servis", Gateway.click): 7_000_000,
        ("Yunusobod Servis", Gateway.payme): 15_000_000,
        ("Yunusobod Servis", Gateway.stripe): 3_000_000,
        ("Yunusobod Servis", Gateway.bank): 4_000_000,
    }


# The job


def payme_days(engine: Engine, first: date, last: date) -> None:
    """A Payme payment at noon of each day, booked as Payme would make it."""
    with session_scope(engine) as session:
        flat = make_apartment(session)
        day = first
        while day <= last:
            provider_payment(session, Gateway.payme, flat, f"job-{day}", 1_000_000, at(day, 12))
            day += timedelta(days=1)


def test_the_job_reconciles_yesterday_then_every_missed_day_once(
    db: Engine, settings: Settings, frozen_clock
):
    payme_days(db, date(2026, 11, 1), date(2026, 11, 8))
    frozen_clock.at(date(2026, 11, 2), 6)
    line = run_job(settings, "reconcile-gateways", engine=db, on=date(2026, 11, 2))
    assert line.startswith("reconcile gateways 2026-11-01: 0 differences")
    frozen_clock.at(date(2026, 11, 6), 9)  # the worker was down on the 3rd, 4th and 5th
    assert jobs.reconcile_gateways(db, settings).startswith("reconcile gateways 2026-11-02..2026-11-05:")
    with Session(db) as session:
        done = runs(session)
        assert {(r[1], r[2]) for r in done} == {(g, date(2026, 11, d)) for g in Gateway for d in range(1, 6)}
        assert [r[3:5] for r in done if r[1] == Gateway.payme] == [(1, 1_000_000)] * 5
        assert catchup.done_through(session, jobs.RECONCILE_GATEWAYS) == date(2026, 11, 6)
    again = jobs.reconcile_gateways(db, settings)  # the same day again: yesterday only, same rows
    assert again.startswith("reconcile gateways 2026-11-05:")
    with Session(db) as session:
        assert runs(session) == done


def test_a_failing_gateway_day_is_skipped_and_tried_again(
    db: Engine, settings: Settings, frozen_clock, monkeypatch
):
    payme_days(db, date(2026, 11, 1), date(2026, 11, 4))
    with session_scope(db) as session:
        catchup.mark_done(session, jobs.RECONCILE_GATEWAYS, date(2026, 11, 1))
    real = service.reconcile_day

    def broken(session, gateway, day, **kw):
        if gateway is Gateway.click and day == date(2026, 11, 2):
            raise RuntimeError("a bug")
        return real(session, gateway, day, **kw)

    monkeypatch.setattr(jobs, "reconcile_day", broken)
    frozen_clock.at(date(2026, 11, 4), 6)
    line = jobs.reconcile_gateways(db, settings)
    assert "1 failed (click 2026-11-02)" in line
    with Session(db) as session:
        assert {(r[1], r[2]) for r in runs(session)} == {
            (g, date(2026, 11, d)) for g in Gateway for d in (1, 2, 3)
        } - {(Gateway.click, date(2026, 11, 2))}
        # the run of the 2nd (reconciling the 1st) is done; the 3rd's failed in part
        assert catchup.done_through(session, jobs.RECONCILE_GATEWAYS) == date(2026, 11, 2)
    monkeypatch.setattr(jobs, "reconcile_day", real)
    assert jobs.reconcile_gateways(db, settings).startswith("reconcile gateways 2026-11-02..2026-11-03:")
    with Session(db) as session:
        assert len(runs(session)) == 3 * len(Gateway)
        assert catchup.done_through(session, jobs.RECONCILE_GATEWAYS) == date(2026, 11, 4)


def test_the_job_cancels_checkouts_no_provider_opened(db: Engine, settings: Settings, frozen_clock):
    frozen_clock.at(date(2026, 11, 4), 6)
    with session_scope(db) as session:
        flat = make_apartment(session)
        payer = make_user(session, Role.resident, person_id=make_owner(session, flat).id)
        old, fresh = (
            merchant.start_checkout(
                session,
                gateway,
                apartment_id=flat.id,
                amount_minor=1_000_000,
                limits=merchant.Limits(1, 10**9),
                user_id=payer.id,
            )
            for gateway in (Gateway.payme, Gateway.click)
        )
        old.created_at = frozen_clock.moment - timedelta(hours=settings.reconcile.abandon_checkout_hours + 1)
        fresh.created_at = frozen_clock.moment - timedelta(hours=1)
        ids = old.id, fresh.id
    assert "1 abandoned checkouts cancelled" in jobs.reconcile_gateways(db, settings)
    with Session(db) as session:
        assert [session.get(PaymentAttempt, i).status for i in ids] == [
            PaymentStatus.canceled,
            PaymentStatus.created,
        ]


def test_the_job_is_in_the_scheduler_and_its_calendar():
    job = next(j for j in JOBS if j.name == "reconcile-gateways")
    assert str(job.trigger) == "cron[hour='6', minute='0'] city time"
    assert "reconcile-gateways" in CALENDAR


def test_the_demo_leaves_one_difference_the_demo_manager_sees(db: Engine, settings: Settings):
    ensure_demo_city(db)
    reset_demo_users(db, settings, password_for=lambda role: f"{role}-password-1")
    said = seed_demo_gateway_payments(db, settings)
    assert "5 Payme and Click payments" in said, said
    assert seed_demo_gateway_payments(db, settings) == "demo Payme and Click payments already there"
    yesterday = clock.local_today(settings.timezone) - timedelta(days=1)
    with Session(db) as session:
        found = differences(session)
        assert [(d[1], d[2], d[3], d[4]) for d in found] == [
            (Gateway.payme, yesterday, Kind.missing_in_ours, PLANTED)
        ]
        manager = session.exec(select(User).where(User.username == demo_username(Role.manager))).one()
        seen = session.exec(
            visible_differences(Actor.of(manager), clock.local_today(settings.timezone))
        ).all()
        assert [d.external_id for d in seen] == [PLANTED]
        figures = {r[1]: r[3:] for r in runs(session)}
        assert figures[Gateway.payme] == (3, 55_050_000, 8_000_000, 4, 1)
        assert figures[Gateway.click] == (2, 33_500_000, 0, 2, 0)
        before = runs(session)
    jobs.reconcile_gateways(db, settings)  # what the demo's worker does when it starts: the same rows
    with Session(db) as session:
        assert differences(session) == found and runs(session) == before


@pytest.mark.skipif(not POSTGRES, reason="concurrent transactions on PostgreSQL only")
def test_the_same_statement_imported_twice_at_once_and_a_day_reconciled_twice_at_once(
    db: Engine, frozen_clock
):
    frozen_clock.at(DAY + timedelta(days=1), 9)
    text = "transaction_id,time,amount,account_number,state\n" + "".join(
        f"race-{n},2026-11-03T10:00:00+05:00,1.00,NOBODY-{n},performed\n" for n in range(200)
    )

    def import_once():
        with session_scope(db) as session:
            result = import_provider_statement(
                session, statement_csv_text(text), gateway=Gateway.payme, apartments=None, user_id=None,
                timezone="Asia/Tashkent", now=frozen_clock.moment,
            )  # fmt: skip
            return result.imported, result.already_imported

    assert sorted(run_together(import_once, import_once)) == [(0, 200), (200, 0)]

    def reconcile_once():
        with session_scope(db) as session:
            return service.reconcile_day(
                session, Gateway.payme, DAY, timezone="Asia/Tashkent", now=frozen_clock.moment
            ).differences

    assert run_together(reconcile_once, reconcile_once) == [200, 200]
    with Session(db) as session:
        assert len(differences(session)) == 200 and len(runs(session)) == 1
