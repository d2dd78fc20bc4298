"""The daily reminder jobs: invoices due soon and overdue, and the meter-reading window. Each
notice is written once per invoice (or window and apartment) whether a day runs twice, late or
not at all; what is paid is not reminded of; a failing item is skipped and retried."""

import threading
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from billing.invoices import reminders
from billing.invoices.jobs import payment_reminders
from billing.models import Gateway
from billing.payments.service import record_manual_payment
from housing.notifications.models import Notification
from sensors.meters.jobs import reading_window
from sensors.meters.window import Window, window_of
from sensors.models import MeterKind
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment
from tests.factories.readings import add_readings, make_meter
from tests.factories.requests import make_resident
from tests.faults import fail_when

OCTOBER = date(2026, 10, 1)  # billed in November, due on 15 November


def notices(session: Session, kind: str) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).where(Notification.kind == kind).order_by(Notification.id)))


@pytest.fixture
def accounts(session: Session):
    """Three households with an October invoice each: one pays in full, one in part, one not at all."""
    made = []
    for _ in range(3):
        apartment = make_apartment(session)
        user = make_resident(session, apartment)
        invoice = make_billed_invoice(session, apartment, 10_000_000, period=OCTOBER)
        made.append((apartment, user, invoice))
    session.commit()
    return made


def _pay(session: Session, apartment, amount: int, reference: str) -> None:
    record_manual_payment(
        session,
        apartment_id=apartment.id,
        amount_minor=amount,
        gateway=Gateway.bank,
        reference=reference,
        paid_at=datetime(2026, 11, 5, tzinfo=UTC),
        user_id=None,
    )
    session.commit()


def test_due_soon_reminds_of_what_is_left_to_pay_once_and_never_of_a_paid_invoice(
    db, session, settings, accounts
):
    (paid, _, _), (part, part_user, _), (_, unpaid_user, unpaid_invoice) = accounts
    _pay(session, paid, 10_000_000, "B-1")
    _pay(session, part, 4_000_000, "B-2")

    assert "0 due-soon" in payment_reminders(db, settings, today=date(2026, 11, 11))  # 4 days before
    for day in (12, 12, 13, 14, 15):
        payment_reminders(db, settings, today=date(2026, 11, day))

    found = notices(session, reminders.DUE_SOON)
    assert [(n.user_id, n.params["amount_minor"]) for n in found] == [
        (part_user.id, 6_000_000),
        (unpaid_user.id, 10_000_000),
    ]
    assert found[1].link == f"/invoices/{unpaid_invoice.id}" and found[1].params["due"] == "2026-11-15"
    assert notices(session, reminders.OVERDUE) == []


def test_overdue_is_sent_once_the_day_after_the_due_date_even_when_that_day_was_missed(
    db, session, settings, accounts
):
    (paid, _, _), (_, part_user, _), (_, unpaid_user, _) = accounts
    _pay(session, paid, 10_000_000, "B-1")
    payment_reminders(db, settings, today=date(2026, 11, 15))
    assert notices(session, reminders.OVERDUE) == []  # due today: not late yet
    # The 16th is missed; the 17th makes it good, twice; the days after find nothing new.
    for day in (17, 17, 18, 30):
        payment_reminders(db, settings, today=date(2026, 11, day))
    assert sorted(n.user_id for n in notices(session, reminders.OVERDUE)) == sorted(
        [part_user.id, unpaid_user.id]
    )


def test_a_first_run_does_not_remind_of_invoices_overdue_long_ago(db, session, settings, accounts):
    payment_reminders(db, settings, today=date(2026, 12, 20))
    assert notices(session, reminders.OVERDUE) == []


def test_an_invoice_that_fails_is_skipped_the_others_reminded_and_it_is_retried(
    db, session, settings, accounts, monkeypatch
):
    (_, first_user, first_invoice), (_, second_user, _), (_, third_user, _) = accounts
    real = fail_when(
        monkeypatch,
        reminders,
        "users_by_apartment",
        lambda session, ids, today: first_invoice.apartment_id in ids,
    )
    line = payment_reminders(db, settings, today=date(2026, 11, 16))
    assert "1 invoices failed" in line and str(first_invoice.id) in line
    assert sorted(n.user_id for n in notices(session, reminders.OVERDUE)) == sorted(
        [second_user.id, third_user.id]
    )

    monkeypatch.setattr(reminders, "users_by_apartment", real)
    payment_reminders(db, settings, today=date(2026, 11, 17))
    assert sorted(n.user_id for n in notices(session, reminders.OVERDUE)) == sorted(
        [first_user.id, second_user.id, third_user.id]
    )


# The reading window


@pytest.mark.parametrize(
    ("day", "window"),
    [
        (date(2026, 12, 14), None),
        (date(2026, 12, 15), Window(date(2026, 12, 15), date(2026, 12, 25))),
        (date(2026, 12, 25), Window(date(2026, 12, 15), date(2026, 12, 25))),
        (date(2026, 12, 26), None),
    ],
)
def test_the_window_a_day_falls_in(day, window):
    assert window_of(day, 15, 25) == window


def test_a_window_across_the_months_end_and_past_a_short_months_length():
    assert window_of(date(2027, 1, 3), 25, 5) == Window(date(2026, 12, 25), date(2027, 1, 5))
    assert window_of(date(2026, 12, 28), 25, 5) == Window(date(2026, 12, 25), date(2027, 1, 5))
    assert window_of(date(2027, 1, 10), 25, 5) is None
    assert window_of(date(2027, 2, 28), 20, 31) == Window(date(2027, 2, 20), date(2027, 2, 28))
    assert Window(date(2026, 12, 15), date(2026, 12, 16)).closing_from(2) == date(2026, 12, 15)


@pytest.fixture
def manual_meters(session: Session):
    """A flat with two meters read by hand, a flat with a smart meter only, and their residents."""
    flat = make_apartment(session)
    resident = make_resident(session, flat)
    cold = make_meter(session, apartment=flat, kind=MeterKind.cold_water, smart=False)
    hot = make_meter(session, apartment=flat, kind=MeterKind.hot_water, smart=False)
    smart_flat = make_apartment(session)
    smart_resident = make_resident(session, smart_flat)
    make_meter(session, apartment=smart_flat, kind=MeterKind.electricity)
    session.commit()
    return flat, resident, cold, hot, smart_resident


def test_the_window_opening_and_closing_are_told_once_and_only_of_unread_manual_meters(
    db, session, settings, manual_meters
):
    flat, resident, cold, hot, _ = manual_meters
    for day in (14, 15, 15, 16):
        reading_window(db, settings, today=date(2026, 12, day))
    [opened] = notices(session, "reading_window_open")
    assert (opened.user_id, opened.params["closes"]) == (resident.id, "2026-12-25")
    assert opened.link == f"/apartments/{flat.id}/meters"

    add_readings(session, cold, [(datetime(2026, 12, 18, 10, tzinfo=UTC), "12.5")], source="manual")
    session.commit()
    for day in (22, 23, 23, 24, 25, 26):
        reading_window(db, settings, today=date(2026, 12, day))
    [closing] = notices(session, "reading_window_closing")
    assert closing.params == {"closes": "2026-12-25", "days": 2, "meter": hot.serial}


def test_a_window_opening_missed_by_the_job_is_told_on_its_next_run(db, session, settings, manual_meters):
    _, resident, *_ = manual_meters
    reading_window(db, settings, today=date(2026, 12, 13))
    reading_window(db, settings, today=date(2026, 12, 17))  # down from the 14th to the 16th
    assert [n.user_id for n in notices(session, "reading_window_open")] == [resident.id]


def test_a_window_closing_when_every_meter_was_read_tells_nobody(db, session, settings, manual_meters):
    _, _, cold, hot, _ = manual_meters
    for meter in (cold, hot):
        add_readings(session, meter, [(datetime(2026, 12, 16, 10, tzinfo=UTC), "3")], source="manual")
    session.commit()
    reading_window(db, settings, today=date(2026, 12, 23))
    assert notices(session, "reading_window_closing") == []


def test_two_workers_running_the_day_at_once_write_each_reminder_once(db, session, settings, accounts):
    barrier = threading.Barrier(2)
    lines: list[str] = []

    def run() -> None:
        barrier.wait(timeout=10)
        lines.append(payment_reminders(db, settings, today=date(2026, 11, 16)))

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert len(lines) == 2 and not any("failed" in line for line in lines)
    assert sorted(n.user_id for n in notices(session, reminders.OVERDUE)) == sorted(
        u.id for _, u, _ in accounts
    )
