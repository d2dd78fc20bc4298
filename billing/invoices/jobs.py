"""`payment-reminders`, a daily calendar job: invoices due soon and invoices overdue, reminded once.

Run for a day (`housing jobs run payment-reminders --on 2026-12-16`), it covers every day
since the last one it finished (at most `MAX_CATCH_UP_DAYS`), so a day missed is made good
by the next run; the reminders' dedupe keys make a day run twice remind nobody twice. Each
batch of invoices is one transaction and a failing invoice is skipped and retried the next
run (`housing.notifications.batches`): the days are recorded as finished only when none failed.
"""

from datetime import date, timedelta

from sqlalchemy import Engine

from billing.invoices import reminders
from housing import clock
from housing.catchup import service as catchup
from housing.db import session_scope
from housing.notifications.batches import record_progress, write_isolated
from housing.settings import Settings

PAYMENT_REMINDERS = "payment-reminders"  # the job's name in the scheduler's table and job_progress
MAX_CATCH_UP_DAYS = 31  # a longer outage reminds of what fell due in its last month only


def first_day(engine: Engine, today: date) -> date:
    """The day after the last one finished, not before `MAX_CATCH_UP_DAYS` ago; `today` on a first run."""
    with session_scope(engine) as session:
        finished = catchup.done_through(session, PAYMENT_REMINDERS)
    if finished is None:
        return today
    return max(min(finished + timedelta(days=1), today), today - timedelta(days=MAX_CATCH_UP_DAYS))


def payment_reminders(engine: Engine, settings: Settings, today: date | None = None) -> str:
    today = today or clock.local_today(settings.timezone)
    first = first_day(engine, today)
    now = clock.now()
    with session_scope(engine) as session:
        due_soon = reminders.due_soon_ids(session, today, settings.notify.due_soon_days)
        overdue = reminders.overdue_ids(session, first, today)

    def writer(kind: str):
        return lambda session, ids: reminders.remind(session, ids, kind=kind, today=today, now=now)

    soon_written, soon_failed = write_isolated(engine, due_soon, writer(reminders.DUE_SOON), "invoice")
    late_written, late_failed = write_isolated(engine, overdue, writer(reminders.OVERDUE), "invoice")
    failed = soon_failed + late_failed
    # With a failure, the next run starts from `first` again.
    record_progress(engine, PAYMENT_REMINDERS, first - timedelta(days=1) if failed else today)
    span = today.isoformat() if first >= today else f"{first.isoformat()}..{today.isoformat()}"
    line = (
        f"payment reminders {span}: {soon_written} due-soon notices for {len(due_soon)} invoices,"
        f" {late_written} overdue notices for {len(overdue)} invoices"
    )
    if failed:
        line += f"; {len(failed)} invoices failed ({', '.join(map(str, failed[:20]))}), retried next run"
    return line
