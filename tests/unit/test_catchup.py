"""The calendar of catch-up: progress records, day and month ranges, what a job should have done by now."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from billing.jobs import first_month_to_bill, first_penalty_day
from billing.models import LedgerKind
from housing.catchup.service import days, done_through, expected_through, mark_done, months
from housing.settings import BillingSettings, Settings
from tests.factories.billing import make_invoice, make_ledger_entry
from tests.factories.core import make_apartment

TASHKENT = ZoneInfo("Asia/Tashkent")
GRACE = timedelta(hours=2)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TASHKENT)


def test_progress_is_recorded_and_never_moves_back(session: Session) -> None:
    assert done_through(session, "daily-penalties") is None
    mark_done(session, "daily-penalties", date(2026, 11, 3))
    mark_done(session, "daily-penalties", date(2026, 11, 1))  # an older day run by hand
    assert done_through(session, "daily-penalties") == date(2026, 11, 3)
    mark_done(session, "daily-penalties", date(2026, 11, 4))
    assert done_through(session, "daily-penalties") == date(2026, 11, 4)
    assert done_through(session, "monthly-billing") is None  # one record per job


def test_days_and_months_ranges() -> None:
    assert list(days(date(2026, 2, 27), date(2026, 3, 2))) == [
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 1),
        date(2026, 3, 2),
    ]
    assert list(days(date(2026, 3, 2), date(2026, 3, 1))) == []
    assert list(months(date(2026, 11, 1), date(2027, 2, 14))) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
    assert list(months(date(2027, 1, 1), date(2026, 12, 1))) == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(date(2026, 11, 3), 3, 29), date(2026, 11, 2)),  # 01:30 + 2 h not yet passed
        (local(date(2026, 11, 3), 3, 30), date(2026, 11, 3)),
        (local(date(2026, 11, 3), 23, 59), date(2026, 11, 3)),
        (local(date(2026, 1, 1), 0, 0), date(2025, 12, 31)),  # across the year
        # 20:00 UTC on 2 November is 01:00 on the 3rd in Tashkent: the local calendar counts
        (datetime(2026, 11, 2, 20, 0, tzinfo=UTC), date(2026, 11, 2)),
        (datetime(2026, 11, 2, 22, 30, tzinfo=UTC), date(2026, 11, 3)),
    ],
)
def test_what_a_daily_job_should_have_done_by_now(now: datetime, expected: date) -> None:
    assert expected_through(now, "Asia/Tashkent", monthly=False, at=time(1, 30), grace=GRACE) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(date(2026, 11, 1), 3, 59), date(2026, 9, 1)),  # 02:00 + 2 h on the 1st not yet passed
        (local(date(2026, 11, 1), 4, 0), date(2026, 10, 1)),
        (local(date(2026, 11, 30), 23, 0), date(2026, 10, 1)),
        (local(date(2027, 1, 1), 1, 0), date(2026, 11, 1)),
        (local(date(2027, 1, 3), 9, 0), date(2026, 12, 1)),
    ],
)
def test_what_the_monthly_job_should_have_done_by_now(now: datetime, expected: date) -> None:
    assert expected_through(now, "Asia/Tashkent", monthly=True, at=time(2, 0), grace=GRACE) == expected


def test_the_first_month_to_bill(session: Session) -> None:
    october, november = date(2026, 10, 1), date(2026, 11, 1)
    # A new installation: the month its first building was registered (today, on the wall
    # clock), or the month asked for if that is earlier.
    assert first_month_to_bill(session, october, "Asia/Tashkent") == november  # nothing to bill yet
    flat = make_apartment(session)
    assert first_month_to_bill(session, date(2020, 1, 1), "Asia/Tashkent") == date(2020, 1, 1)
    registered = datetime.now(TASHKENT).date().replace(day=1)
    far = date(registered.year + 1, registered.month, 1)
    assert first_month_to_bill(session, far, "Asia/Tashkent") == registered  # never before it existed
    # An installation with invoices but no record: from the last billed month (its leftovers).
    make_invoice(session, flat, period=date(2026, 8, 1))
    assert first_month_to_bill(session, november, "Asia/Tashkent") == date(2026, 8, 1)
    # The record wins: the month after it, and the month asked for again.
    mark_done(session, "monthly-billing", date(2026, 9, 1))
    assert first_month_to_bill(session, november, "Asia/Tashkent") == october
    mark_done(session, "monthly-billing", november)
    assert first_month_to_bill(session, november, "Asia/Tashkent") == november


def test_the_first_penalty_day(session: Session) -> None:
    today = date(2026, 11, 20)
    assert first_penalty_day(session, today) == today  # a new installation: nothing to make good
    flat = make_apartment(session)
    invoice = make_invoice(session, flat)
    make_ledger_entry(
        session,
        flat,
        kind=LedgerKind.penalty,
        amount_minor=100,
        invoice_id=invoice.id,
        occurred_at=datetime(2026, 11, 12, tzinfo=UTC),
    )
    assert first_penalty_day(session, today) == date(2026, 11, 13)  # after the last one booked
    mark_done(session, "daily-penalties", date(2026, 11, 17))
    assert first_penalty_day(session, today) == date(2026, 11, 18)
    assert first_penalty_day(session, date(2026, 11, 10)) == date(2026, 11, 10)  # an older day by hand


def test_the_minimum_time_to_pay_is_a_setting() -> None:
    assert Settings().billing.min_days_to_pay == BillingSettings().min_days_to_pay == 10
    with pytest.raises(ValueError):
        BillingSettings(min_days_to_pay=-1)
    with pytest.raises(ValueError):
        BillingSettings(min_days_to_pay="ten")
