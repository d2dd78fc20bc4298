"""A month on a frozen clock, as the scheduler would live it: November is billed on 1 December,
the daily reminder jobs run every morning (twice on some days, not at all on others), the sender
delivers every few minutes by e-mail. Each resident receives each notice once, on the day it is
due, in their language; the one written late at night waits for the end of the quiet hours."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from billing.jobs import bill_period
from billing.models import Gateway, Invoice
from billing.payments.service import record_manual_payment
from housing.accounts.models import Role
from housing.notifications.channels.base import SENT, Outgoing
from housing.notifications.kinds import Channel
from housing.notifications.models import Notification
from housing.notifications.sender import send_due
from housing.scheduler import run_job
from sensors.models import MeterKind
from tests.factories.core import make_apartment, make_owner, make_user
from tests.factories.readings import make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")
NOVEMBER = date(2026, 11, 1)
DOWN = {date(2026, 12, 12), date(2026, 12, 16)}  # the worker was down: the jobs did not run
TWICE = {date(2026, 12, 13), date(2026, 12, 15), date(2026, 12, 17)}  # a second worker ran them too
LATE = date(2026, 12, 17)  # that day's run came at 23:00, inside the quiet hours


class Mailbox:
    """An e-mail channel that keeps what it is given."""

    channel = Channel.email
    rate_per_second = 10_000

    def __init__(self) -> None:
        self.got: list[tuple[datetime, Outgoing]] = []
        self.now: datetime | None = None

    def send(self, messages: list[Outgoing]) -> list:
        self.got += [(self.now, message) for message in messages]
        return [SENT for _ in messages]

    def close(self) -> None:
        pass


def _household(session: Session, email: str, language: str):
    apartment = make_apartment(session)
    owner = make_owner(session, apartment, email=email)
    user = make_user(session, Role.resident, person_id=owner.id)
    user.language = language
    make_meter(session, apartment=apartment, kind=MeterKind.cold_water, smart=False)
    return apartment, user


def test_a_month_of_notices_each_once_on_its_day_quiet_hours_kept(
    db, session, settings, tashkent_tariffs, frozen_clock
):
    _, late_user = _household(session, "late@example.uz", "ru")
    prompt_payer, prompt_user = _household(session, "prompt@example.uz", "uz")
    session.commit()
    mailbox = Mailbox()

    def deliver(moment: datetime) -> None:
        mailbox.now = frozen_clock.set(moment)
        while send_due(db, settings, [mailbox], clock=lambda: moment).busy:
            pass

    frozen_clock.at(date(2026, 12, 1), 2)
    assert "issued 2 invoices" in bill_period(db, settings, NOVEMBER, date(2026, 12, 1))
    due = session.exec(select(Invoice.due_date)).first()
    assert due == date(2026, 12, 15)

    def local(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TASHKENT)

    def run_jobs(day: date, hour: int) -> None:
        frozen_clock.set(local(day, hour))
        for _ in range(2 if day in TWICE else 1):
            run_job(settings, "payment-reminders", db, on=day)  # as `housing jobs run ... --on DAY`
            run_job(settings, "reading-window", db, on=day)

    day = date(2026, 12, 1)
    while day <= date(2026, 12, 31):
        deliver(local(day, 7, 59))
        deliver(local(day, 8))
        if day not in DOWN and day != LATE:
            run_jobs(day, 9)
        deliver(local(day, 9, 5))
        if day == date(2026, 12, 10):
            frozen_clock.set(local(day, 11))
            invoice = session.exec(select(Invoice).where(Invoice.apartment_id == prompt_payer.id)).one()
            record_manual_payment(
                session,
                apartment_id=prompt_payer.id,
                amount_minor=invoice.total_minor,
                gateway=Gateway.bank,
                reference="BANK-1",
                paid_at=frozen_clock.moment,
                user_id=None,
            )
            session.commit()
            deliver(local(day, 11, 5))
        if day == LATE:
            run_jobs(day, 23)
        deliver(local(day, 23, 30))
        day += timedelta(days=1)

    session.expire_all()
    written = {
        (n.user_id, n.kind): n.created_at.astimezone(TASHKENT).date()
        for n in session.exec(select(Notification))
    }
    assert len(written) == len(session.exec(select(Notification)).all())  # none twice
    assert written == {
        (late_user.id, "invoice_issued"): date(2026, 12, 1),
        (late_user.id, "payment_due_soon"): date(2026, 12, 13),  # the 12th was missed
        (late_user.id, "payment_overdue"): LATE,  # the 16th was missed
        (late_user.id, "reading_window_open"): date(2026, 12, 15),
        (late_user.id, "reading_window_closing"): date(2026, 12, 23),
        (prompt_user.id, "invoice_issued"): date(2026, 12, 1),
        (prompt_user.id, "payment_received"): date(2026, 12, 10),
        (prompt_user.id, "reading_window_open"): date(2026, 12, 15),
        (prompt_user.id, "reading_window_closing"): date(2026, 12, 23),
    }

    mails = [(at, m) for at, m in mailbox.got if m.address == "late@example.uz"]
    assert len(mails) == 5 and len({m.delivery_id for _, m in mailbox.got}) == len(mailbox.got)
    # Each written by day goes within minutes; the invoices (billed at 02:00) and the overdue
    # reminder (written at 23:00 on the 17th) are held through the night and go at 08:00.
    [message] = [m for at, m in mails if at == local(LATE + timedelta(days=1), 8)]
    assert message.language == "ru" and message.url.endswith("/invoices/1")
    assert sorted(at.astimezone(TASHKENT).strftime("%d %H:%M") for at, _ in mails) == [
        "01 08:00",
        "13 09:05",
        "15 09:05",
        "18 08:00",
        "23 09:05",
    ]
    prompt = sorted(
        at.astimezone(TASHKENT).strftime("%d %H:%M")
        for at, m in mailbox.got
        if m.address == "prompt@example.uz"
    )
    assert prompt == ["01 08:00", "10 11:05", "15 09:05", "23 09:05"]
