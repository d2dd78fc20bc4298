"""The billing jobs isolate a failing item: it is logged with its id, the others are done, and
the next run picks it up (a failing billing batch; a failing penalty day)."""

import logging
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

import billing.jobs as jobs
from billing.models import Invoice, LedgerEntry, LedgerKind
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing.catchup import service as catchup
from housing.settings import Settings
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment, make_building
from tests.faults import fail_when

OCTOBER = date(2026, 10, 1)
NOVEMBER_1 = date(2026, 11, 1)


@pytest.fixture
def flats(db: Engine) -> list[int]:
    """Three flats with registered residents (billed for waste removal), committed."""
    seed_tashkent_tariffs(db)
    with Session(db) as session:
        building = make_building(session)
        ids = [make_apartment(session, building, registered_residents=2).id for _ in range(3)]
        session.commit()
    return ids


def billed(db: Engine) -> list[int]:
    with Session(db) as session:
        return sorted(session.exec(select(Invoice.apartment_id).where(Invoice.period == OCTOBER)).all())


def test_a_failing_billing_batch_is_logged_and_the_other_batches_are_billed(
    db: Engine, settings: Settings, flats: list[int], monkeypatch, caplog
) -> None:
    doomed = flats[1]
    real_run_billing = fail_when(
        monkeypatch,
        jobs,
        "run_billing",
        lambda session, **kw: doomed in kw["apartment_ids"],
        "the database went away",
    )
    with caplog.at_level(logging.ERROR, logger="billing.jobs"):
        first = jobs.bill_period(db, settings, OCTOBER, NOVEMBER_1, workers=1, batch_size=1)

    assert billed(db) == [flats[0], flats[2]]
    assert "1 of 3 batches failed, their 1 apartments stay unbilled for the next run" in first
    [record] = [r for r in caplog.records if r.name == "billing.jobs"]
    assert f"ids {doomed}..{doomed}" in record.getMessage() and record.exc_info is not None

    monkeypatch.setattr(jobs, "run_billing", real_run_billing)
    second = jobs.bill_period(db, settings, OCTOBER, NOVEMBER_1, workers=1, batch_size=1)

    assert billed(db) == flats
    assert second.startswith("billing 2026-10: issued 1 invoices") and "failed" not in second


def penalty_days(db: Engine) -> list[date]:
    with Session(db) as session:
        entries = session.exec(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.penalty)).all()
        return sorted(entry.occurred_at.date() for entry in entries)


def test_a_failing_penalty_day_is_logged_the_days_before_it_are_booked_and_the_next_run_books_it(
    db: Engine, settings: Settings, monkeypatch, caplog
) -> None:
    with Session(db) as session:
        make_billed_invoice(session, make_apartment(session), 1_000_000)  # October: due 15 November
        catchup.mark_done(session, jobs.DAILY_PENALTIES, date(2026, 11, 15))
        session.commit()
    doomed = date(2026, 11, 17)
    real_accrue = fail_when(
        monkeypatch,
        jobs,
        "accrue_penalties",
        lambda session, *, today, **kw: today == doomed,
        "the database went away",
    )
    with caplog.at_level(logging.ERROR, logger="billing.jobs"):
        first = jobs.daily_penalties(db, settings, today=date(2026, 11, 18))

    assert penalty_days(db) == [date(2026, 11, 16)]  # the day before the failure is booked
    assert "1 day failed (2026-11-17)" in first
    [record] = [r for r in caplog.records if r.name == "billing.jobs"]
    assert "2026-11-17" in record.getMessage() and record.exc_info is not None
    with Session(db) as session:
        assert catchup.done_through(session, jobs.DAILY_PENALTIES) == date(2026, 11, 16)

    monkeypatch.setattr(jobs, "accrue_penalties", real_accrue)
    second = jobs.daily_penalties(db, settings, today=date(2026, 11, 18))

    assert penalty_days(db) == [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
    assert "failed" not in second


def test_a_day_that_fails_after_its_entries_were_made_counts_none_of_them(
    db: Engine, settings: Settings, monkeypatch, caplog
) -> None:
    """The entries of a day rolled back at its last step (recording progress) are not reported as
    added: the summary counts what was committed."""
    with Session(db) as session:
        make_billed_invoice(session, make_apartment(session), 1_000_000)  # October: due 15 November
        catchup.mark_done(session, jobs.DAILY_PENALTIES, date(2026, 11, 15))
        session.commit()
    doomed = date(2026, 11, 17)
    fail_when(monkeypatch, catchup, "mark_done", lambda session, name, day: day == doomed)
    with caplog.at_level(logging.ERROR, logger="billing.jobs"):
        summary = jobs.daily_penalties(db, settings, today=date(2026, 11, 18))

    assert penalty_days(db) == [date(2026, 11, 16)]
    assert "1 entries added over 1 days" in summary and "1 day failed (2026-11-17)" in summary
