"""Scheduled work follows the calendar, not the scheduler's uptime (`housing.catchup`).

A frozen clock (`housing.clock.now`) plays the days; each job is run through
`housing.scheduler.run_job(..., on=day)` at its scheduled local time, as the worker would,
and the worker's start is `housing.scheduler.catch_up`. The city: one company's building
with two flats billed only for waste removal (7,500 UZS a registered person a month):
Xurshid (2 residents, 1,500,000 tiyin a month) never pays; Yulduz (4 residents, 3,000,000)
pays 2,000,000 of August's bill on 29 September at noon, while the worker is down.
"""

import os
import signal
import subprocess
import sys
import threading
import time as _time
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from billing.jobs import daily_penalties, monthly_billing
from billing.models import Basis, Gateway, Invoice, InvoiceStatus, LedgerEntry, LedgerKind
from billing.payments.service import record_manual_payment
from billing.tariffs.pricing import Tier
from housing.catchup.models import JobProgress
from housing.cli import app as cli
from housing.clock import previous_month
from housing.db import session_scope
from housing.scheduler import CALENDAR, calendar_status, catch_up, run_job
from housing.scores.jobs import nightly_scores
from housing.scores.models import QualityScore
from housing.settings import Settings
from tests.conftest import TEST_SECRET, FrozenClock
from tests.factories.billing import make_invoice, make_ledger_entry, make_service, make_tariff
from tests.factories.core import make_apartment, make_building, make_company

TASHKENT = ZoneInfo("Asia/Tashkent")
AUGUST, SEPTEMBER = date(2026, 8, 1), date(2026, 9, 1)
FIRST_DAY = date(2026, 8, 31)  # the worker's first day
DOWN = (date(2026, 9, 28), date(2026, 10, 2))  # no worker on these days
BACK = datetime(2026, 10, 3, 9, 0, tzinfo=TASHKENT)  # the worker starts again
PAID = datetime(2026, 9, 29, 12, 0, tzinfo=TASHKENT)
POSTGRES = "postgresql" in (os.environ.get("HOUSING_TEST_DATABASE_URL") or "")
TIMES = {  # each calendar job's local time in the scheduler's table
    "daily-penalties": time(1, 30),
    "monthly-billing": time(2, 0),
    "create-partitions": time(2, 15),
    "nightly-scores": time(4, 0),
}


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TASHKENT)


class City:
    def __init__(self, db: Engine, settings: Settings, clock: FrozenClock) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        with session_scope(db) as session:
            waste = make_service(session, code="waste", unit="person")
            make_tariff(
                session, waste, basis=Basis.per_person, tiers=[Tier(up_to=None, price_minor=Decimal(750_000))]
            )
            building = make_building(session, make_company(session, name="Yunusobod Servis"))
            self.xurshid = make_apartment(session, building, number="1", registered_residents=2).id
            self.yulduz = make_apartment(session, building, number="2", registered_residents=4).id

    def day(self, day: date) -> None:
        """The worker's day: each calendar job at its time (billing on the 1st only)."""
        for name, when in sorted(TIMES.items(), key=lambda item: item[1]):
            if name == "monthly-billing" and day.day != 1:
                continue
            self.clock.at(day, when.hour, when.minute)
            run_job(self.settings, name, engine=self.db, on=day)

    def play(self, first: date, last: date, down: tuple[date, date] | None = None) -> None:
        for day in days(first, last):
            if day == PAID.date():
                self.pay()
            if down is None or not down[0] <= day <= down[1]:
                self.day(day)

    def pay(self) -> None:
        self.clock.set(PAID)
        with session_scope(self.db) as session:
            record_manual_payment(
                session,
                apartment_id=self.yulduz,
                amount_minor=2_000_000,
                gateway=Gateway.bank,
                reference="yulduz-august",
                paid_at=PAID,
                user_id=None,
            )

    def invoices(self) -> list[tuple[int, date, datetime | None, date]]:
        with Session(self.db) as session:
            rows = session.exec(select(Invoice).order_by(Invoice.period, Invoice.apartment_id)).all()
        return [(i.apartment_id, i.period, i.issued_at, i.due_date) for i in rows]

    def penalties(self, apartment_id: int, period: date = AUGUST) -> list[tuple[date, int]]:
        with Session(self.db) as session:
            rows = session.exec(
                select(LedgerEntry.dedupe_key, LedgerEntry.amount_minor)
                .join(Invoice, col(Invoice.id) == LedgerEntry.invoice_id)
                .where(
                    LedgerEntry.kind == LedgerKind.penalty,
                    Invoice.apartment_id == apartment_id,
                    Invoice.period == period,
                )
                .order_by(LedgerEntry.occurred_at)
            ).all()
        return [(date.fromisoformat(key.rsplit(":", 1)[1]), amount) for key, amount in rows]

    def penalty_keys(self) -> list[str]:
        with Session(self.db) as session:
            return list(
                session.exec(select(LedgerEntry.dedupe_key).where(LedgerEntry.kind == LedgerKind.penalty))
            )


# Xurshid: 0.1% of 1,500,000 every day after 15 September. Yulduz: 0.1% of 3,000,000 through
# the day she paid (a payment counts from the next day), then of the 1,000,000 still overdue.
XURSHID = [(day, 1_500) for day in days(date(2026, 9, 16), BACK.date())]
YULDUZ = [(day, 3_000) for day in days(date(2026, 9, 16), date(2026, 9, 29))] + [
    (day, 1_000) for day in days(date(2026, 9, 30), BACK.date())
]


@pytest.fixture
def city(db: Engine, settings: Settings, frozen_clock: FrozenClock) -> City:
    return City(db, settings, frozen_clock)


def test_a_worker_that_never_stops_books_every_day(city: City) -> None:
    city.play(FIRST_DAY, BACK.date())

    assert city.penalties(city.xurshid) == XURSHID
    assert city.penalties(city.yulduz) == YULDUZ


def test_a_worker_down_from_the_28th_to_the_3rd_bills_the_month_once_and_books_each_missed_day_once(
    city: City,
) -> None:
    city.play(FIRST_DAY, BACK.date() - timedelta(days=1), down=DOWN)
    city.clock.set(BACK)
    behind = {s.name for s in calendar_status(city.settings, city.db) if s.behind}
    assert behind == set(CALENDAR)  # all four missed days; billing missed September
    assert [period for _, period, _, _ in city.invoices()] == [AUGUST, AUGUST]

    catch_up(city.settings, city.db)  # what `housing worker` does first

    invoices = city.invoices()
    assert [(flat, period) for flat, period, _, _ in invoices] == [
        (city.xurshid, AUGUST),
        (city.yulduz, AUGUST),
        (city.xurshid, SEPTEMBER),
        (city.yulduz, SEPTEMBER),
    ]
    assert {(issued, due) for _, period, issued, due in invoices if period == AUGUST} == {
        (at(date(2026, 9, 1), 2), date(2026, 9, 15))
    }
    assert {(issued, due) for _, period, issued, due in invoices if period == SEPTEMBER} == {
        (BACK, date(2026, 10, 15))  # issued on the 3rd: the 15th still leaves more than 10 days
    }
    assert city.penalties(city.xurshid) == XURSHID  # as if the worker had never stopped
    assert city.penalties(city.yulduz) == YULDUZ
    assert not [s for s in calendar_status(city.settings, city.db) if s.behind]

    before = (city.invoices(), sorted(city.penalty_keys()))
    catch_up(city.settings, city.db)  # the worker restarted again: nothing new
    assert (city.invoices(), sorted(city.penalty_keys())) == before
    assert len(city.penalty_keys()) == len(set(city.penalty_keys()))


@pytest.mark.skipif(not POSTGRES, reason="concurrent transactions on PostgreSQL only")
def test_two_catch_ups_at_once_leave_one_result(city: City) -> None:
    """Without the scheduler's per-job lock: the jobs' own locks and unique keys hold."""
    city.play(FIRST_DAY, BACK.date() - timedelta(days=1), down=DOWN)
    city.clock.set(BACK)
    start = threading.Barrier(2)
    outputs: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=30)
            outputs.append(monthly_billing(city.db, city.settings))
            outputs.append(daily_penalties(city.db, city.settings))
            outputs.append(nightly_scores(city.db, city.settings))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == [] and not any(t.is_alive() for t in threads), outputs
    assert [period for _, period, _, _ in city.invoices()] == [AUGUST, AUGUST, SEPTEMBER, SEPTEMBER]
    assert city.penalties(city.xurshid) == XURSHID
    assert city.penalties(city.yulduz) == YULDUZ
    assert len(city.penalty_keys()) == len(set(city.penalty_keys()))


def test_an_invoice_issued_late_is_not_charged_before_its_due_date(city: City) -> None:
    city.settings.billing.min_days_to_pay = 20
    city.play(FIRST_DAY, BACK.date() - timedelta(days=1), down=DOWN)
    city.clock.set(BACK)
    catch_up(city.settings, city.db)  # September issued on 3 October
    city.play(BACK.date() + timedelta(days=1), date(2026, 10, 30))

    september = {flat: due for flat, period, _, due in city.invoices() if period == SEPTEMBER}
    assert set(september.values()) == {date(2026, 10, 23)}  # 3 October + 20 days
    assert city.penalties(city.xurshid, SEPTEMBER) == [
        (day, 1_500) for day in days(date(2026, 10, 24), date(2026, 10, 30))
    ]


def test_a_penalty_day_counts_only_invoices_issued_before_it(db: Engine, settings: Settings) -> None:
    """An invoice issued after its due date (as before the minimum time to pay) is charged from
    the day after it was issued, not for the days before."""
    with session_scope(db) as session:
        flat = make_apartment(session)
        invoice = make_invoice(
            session,
            flat,
            status=InvoiceStatus.issued,
            total_minor=1_000_000,
            due_date=date(2026, 11, 15),
            issued_at=at(date(2026, 11, 20), 10),
        )
        make_ledger_entry(session, flat, amount_minor=1_000_000, invoice_id=invoice.id)
        session.add(JobProgress(job="daily-penalties", done_through=date(2026, 11, 15)))

    assert daily_penalties(db, settings, today=date(2026, 11, 23)) == (
        "penalties 2026-11-16..2026-11-23: 3 entries added over 8 days"
    )
    with Session(db) as session:
        booked = session.exec(
            select(LedgerEntry.dedupe_key)
            .where(LedgerEntry.kind == LedgerKind.penalty)
            .order_by(LedgerEntry.id)
        ).all()
    assert booked == [f"penalty:{invoice.id}:2026-11-{day}" for day in (21, 22, 23)]


def test_a_company_onboarded_mid_year_is_billed_from_its_first_month(
    db: Engine, settings: Settings, frozen_clock: FrozenClock
) -> None:
    with session_scope(db) as session:
        waste = make_service(session, code="waste", unit="person")
        make_tariff(
            session, waste, basis=Basis.per_person, tiers=[Tier(up_to=None, price_minor=Decimal(750_000))]
        )
        old = make_apartment(session, make_building(session, make_company(session, name="Eski Uy"))).id
        newcomer = make_company(session, name="Yangi Uy")
        new = make_apartment(session, make_building(session, newcomer, managed_from=date(2026, 6, 10))).id

    frozen_clock.at(date(2026, 3, 1), 2)  # a new installation: its first run bills February only
    run_job(settings, "monthly-billing", engine=db, on=date(2026, 3, 1))
    frozen_clock.at(date(2026, 8, 3), 9)  # down from March to August
    first = run_job(settings, "monthly-billing", engine=db, on=date(2026, 8, 3))
    second = run_job(settings, "monthly-billing", engine=db, on=date(2026, 8, 3))

    with Session(db) as session:
        rows = session.exec(select(Invoice).order_by(Invoice.company_id, Invoice.sequence)).all()
    months = {flat: [i.period for i in rows if i.apartment_id == flat] for flat in (old, new)}
    assert months[old] == [date(2026, m, 1) for m in range(2, 8)]  # February to July, in order
    assert months[new] == [date(2026, 6, 1), date(2026, 7, 1)]  # managed from 10 June: never before
    assert [m.split(":")[0] for m in first.split("; ")] == [f"billing 2026-0{m}" for m in range(3, 8)]
    assert "billing 2026-07: issued 0 invoices" in second


def test_scores_of_missed_months_are_stored(city: City) -> None:
    city.clock.at(date(2026, 9, 27), 4)
    run_job(city.settings, "nightly-scores", engine=city.db, on=date(2026, 9, 27))
    city.clock.at(date(2026, 12, 3), 9)  # down from 28 September to 2 December

    result = run_job(city.settings, "nightly-scores", engine=city.db)

    assert result.startswith("scored 2026-09: 1 companies, 2026-10: 1 companies, 2026-11: 1 companies")
    with Session(city.db) as session:
        stored = {s.period: s.computed_at for s in session.exec(select(QualityScore))}
    assert set(stored) == {date(2026, m, 1) for m in (8, 9, 10, 11, 12)}  # August from the 27th
    assert stored[date(2026, 10, 1)] == at(date(2026, 12, 3), 9)  # October, finished, not left out


def test_jobs_run_takes_the_day_to_run_as(
    city: City, database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    env = {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "HOUSING_SCHEDULER__HEARTBEAT_FILE": str(tmp_path / "beat"),
        "COLUMNS": "200",
    }
    city.clock.at(date(2026, 9, 1), 2)
    billed = runner.invoke(cli, ["jobs", "run", "monthly-billing", "--on", "2026-09-01"], env=env)
    assert billed.exit_code == 0 and "billing 2026-08: issued 2 invoices" in billed.output, billed.output
    city.clock.at(date(2026, 9, 20), 1, 30)
    for day in ("2026-09-15", "2026-09-17", "2026-09-16"):  # out of order: each day once
        ran = runner.invoke(cli, ["jobs", "run", "daily-penalties", "--on", day], env=env)
        assert ran.exit_code == 0, ran.output
    assert city.penalties(city.xurshid) == [(date(2026, 9, d), 1_500) for d in (16, 17)]
    ran = runner.invoke(
        cli, ["jobs", "run", "daily-penalties", "--date", "2026-09-18"], env=env
    )  # the same flag
    assert ran.exit_code == 0, ran.output
    assert city.penalties(city.xurshid) == [(date(2026, 9, d), 1_500) for d in (16, 17, 18)]

    refused = {
        ("daily-penalties", "2026-09-21"): "has not begun yet",  # tomorrow
        ("daily-penalties", "2026-13-01"): "--on must be a day",
        ("daily-penalties", "2026-09-16\x1b"): "--on must be a day",
        ("request-deadlines", "2026-09-16"): "runs for the present moment",
    }
    for (name, day), why in refused.items():
        result = runner.invoke(cli, ["jobs", "run", name, "--on", day], env=env)
        assert result.exit_code == 2 and why in " ".join(result.output.split()), (name, day, result.output)

    (tmp_path / "beat").touch()
    health = runner.invoke(cli, ["health", "worker"], env=env)
    assert health.exit_code == 1, health.output  # nothing scored, penalties not booked through today
    assert "behind" in health.output and "daily-penalties" in health.output
    city.clock.at(date(2026, 9, 20), 9)
    catch_up(city.settings, city.db)
    health = runner.invoke(cli, ["health", "worker"], env=env)
    assert health.exit_code == 0, health.output


def test_the_worker_bills_the_missed_month_when_it_starts(db: Engine, database_url: str, tmp_path) -> None:
    """`housing worker` on the wall clock: last month was never billed (no worker at 02:00 on
    the 1st); the worker bills it before its first heartbeat."""
    with session_scope(db) as session:
        waste = make_service(session, code="waste", unit="person")
        make_tariff(
            session, waste, basis=Basis.per_person, tiers=[Tier(up_to=None, price_minor=Decimal(750_000))]
        )
        flat = make_apartment(session).id
    last_month = previous_month(datetime.now(TASHKENT).date())
    heartbeat = tmp_path / "beat"
    env = os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "HOUSING_SCHEDULER__HEARTBEAT_FILE": str(heartbeat),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = _time.monotonic() + 60
        while not heartbeat.exists() and _time.monotonic() < deadline and worker.poll() is None:
            _time.sleep(0.1)
        assert heartbeat.exists(), "the worker never wrote its heartbeat"
        with Session(db) as session:
            billed = session.exec(select(Invoice.apartment_id, Invoice.period)).all()
        assert billed == [(flat, last_month)]
        health = CliRunner().invoke(cli, ["health", "worker"], env=env)
        assert health.exit_code == 0, health.output
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert f"monthly-billing: billing {last_month:%Y-%m}: issued 1 invoices" in output, output


def test_health_worker_fails_when_it_cannot_read_the_progress(tmp_path) -> None:
    beat = tmp_path / "beat"
    beat.touch()
    env = {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}",
        "HOUSING_SCHEDULER__HEARTBEAT_FILE": str(beat),
    }
    result = CliRunner().invoke(cli, ["health", "worker"], env=env)
    assert result.exit_code == 1
    assert "cannot read the calendar jobs' progress" in " ".join(result.output.split())
