"""The scheduler process: an explicit table of jobs, each also runnable by hand.

A job only finds what is due and hands it to a function; it runs under a PostgreSQL
advisory lock named after the job, so a second scheduler started by mistake is harmless.
Calendar jobs (`Cron`) run on the city's calendar: their time zone is `HOUSING_TIMEZONE`,
given when the scheduler starts (`trigger_for`), never written into the table.

The calendar jobs (`CALENDAR`: monthly billing, daily penalties, nightly scores, reading
partitions, the gateways' reconciliation, ...) work for a day or a month and catch up from the database, not from the
scheduler's memory: each run does every day or month since the last one it finished
(`housing.catchup`), and the worker runs each of them once when it starts, so a worker
that was down at 02:00 on the 1st bills that month when it comes back. APScheduler's
misfire grace only spares a late run; correctness never depends on it. `run_job(..., on=)`
runs a calendar job as on a given day (`housing jobs run NAME --on 2026-11-03`), and
`calendar_status` says which of them is behind (`housing health worker`).
"""

import logging
import signal
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from billing import jobs as billing_jobs
from billing.instalments import jobs as plan_jobs
from billing.invoices import jobs as reminder_jobs
from billing.payments import jobs as payment_jobs
from billing.payments.reconciliation import jobs as reconciliation_jobs
from housing import clock
from housing.accounts.service import purge_expired_tokens
from housing.catchup import service as catchup
from housing.db import advisory_lock, make_engine, session_scope
from housing.meetings import jobs as meeting_jobs
from housing.notifications import jobs as notification_jobs
from housing.requests import jobs as request_jobs
from housing.scores import jobs as score_jobs
from housing.settings import Settings
from housing.twin import jobs as twin_jobs
from sensors import jobs as sensor_jobs
from sensors.meters import jobs as window_jobs

log = logging.getLogger("housing.scheduler")


@dataclass(frozen=True)
class Cron:
    """A cron schedule on the city's calendar; `at(timezone)` makes the trigger in that zone."""

    fields: dict[str, int | str] = field(default_factory=dict)

    def at(self, timezone: str) -> CronTrigger:
        return CronTrigger(timezone=timezone, **self.fields)

    def __str__(self) -> str:
        return "cron[" + ", ".join(f"{k}='{v}'" for k, v in self.fields.items()) + "] city time"


def cron(**fields: int | str) -> Cron:
    return Cron(fields)


@dataclass(frozen=True)
class Job:
    name: str
    trigger: BaseTrigger | Cron
    run: Callable[[Engine, Settings], str]
    doc: str


def trigger_for(job: Job, settings: Settings) -> BaseTrigger:
    """The job's APScheduler trigger; a calendar job's in the city's time zone."""
    return job.trigger.at(settings.timezone) if isinstance(job.trigger, Cron) else job.trigger


def heartbeat(engine: Engine, settings: Settings) -> str:
    settings.scheduler.heartbeat_file.touch()
    return "alive"


def purge_tokens(engine: Engine, settings: Settings) -> str:
    with session_scope(engine) as session:
        removed = purge_expired_tokens(session, older_than=timedelta(days=30))
    return f"removed {removed} expired or revoked tokens"


JOBS: list[Job] = [
    Job("heartbeat", IntervalTrigger(seconds=30), heartbeat, "Marks the worker alive for its health check"),
    Job(
        "request-deadlines",
        IntervalTrigger(minutes=1),
        request_jobs.sweep_deadlines,
        "Marks service requests past their deadline, escalates those overdue too long, brings deferrals back",
    ),
    Job(
        "detect-incidents",
        cron(minute="*/15"),
        sensor_jobs.detect_incidents,
        "Opens and closes service incidents from lukewarm hot water and cold flats",
    ),
    Job(
        "detect-alerts",
        cron(minute=10),
        sensor_jobs.detect_alerts,
        "Opens and closes meter alerts: night leaks, stale meters, backwards readings, verification due",
    ),
    Job(
        "create-partitions",
        cron(hour=2, minute=15),
        sensor_jobs.create_partitions,
        "Creates the monthly reading partitions ahead (PostgreSQL)",
    ),
    Job(
        "monthly-billing",
        cron(day=1, hour=2, minute=0),
        billing_jobs.monthly_billing,
        "Issues the invoices of every month not yet billed through last month, one per personal account",
    ),
    Job(
        "reconcile-payments",
        IntervalTrigger(minutes=5),
        payment_jobs.reconcile_payments,
        "Fetches card payments still pending after a while from Stripe; cancels abandoned ones",
    ),
    Job(
        "reconcile-gateways",
        cron(hour=6, minute=0),
        reconciliation_jobs.reconcile_gateways,
        "Reconciles yesterday's (and any missed day's) payments of every gateway with the ledger and the"
        " providers' statements; cancels Payme and Click checkouts never opened",
    ),
    Job(
        "daily-penalties",
        cron(hour=1, minute=30),
        billing_jobs.daily_penalties,
        "Books the day's late-payment penalties (HOUSING_BILLING__PENALTY_RATE a day, up to the cap)",
    ),
    Job(
        "instalment-plans",
        cron(hour=9, minute=15),
        plan_jobs.instalment_plans,
        "Records instalment plans kept or missed and tells the residents (penalties never wait for it)",
    ),
    Job(
        "nightly-scores",
        cron(hour=4, minute=0),
        score_jobs.nightly_scores,
        "Recomputes and stores the quality scores of the previous (and any missed) and the current month",
    ),
    Job(
        "grade-buildings",
        cron(hour=4, minute=30),
        twin_jobs.grade_buildings,
        "Grades every building green, yellow or red from its incidents, requests, ratings, meters, debts"
        " and money report (after the night's penalties, alerts and scores), recording each change of grade",
    ),
    Job(
        "payment-reminders",
        cron(hour=9, minute=0),
        reminder_jobs.payment_reminders,
        "Reminds residents of invoices due in HOUSING_NOTIFY__DUE_SOON_DAYS and of those just overdue",
    ),
    Job(
        "reading-window",
        cron(hour=9, minute=30),
        window_jobs.reading_window,
        "Tells residents the meter-reading window opened, and which manual meters are unread as it closes",
    ),
    Job(
        "send-notifications",
        IntervalTrigger(seconds=60),
        notification_jobs.send_notifications,
        "Plans new notifications' deliveries and sends those due by e-mail, Telegram and SMS",
    ),
    Job(
        "close-meetings",
        IntervalTrigger(minutes=5),
        meeting_jobs.close_meetings,
        "Counts owners' meetings whose voting has ended, stores the results and applies the decisions",
    ),
    Job(
        "meeting-reminders",
        cron(hour=10, minute=0),
        meeting_jobs.meeting_reminders,
        "Reminds owners who have not voted HOUSING_MEETINGS__REMINDER_DAYS before an owners' meeting ends",
    ),
    Job(
        "purge-tokens",
        cron(hour=3, minute=30),
        purge_tokens,
        "Deletes tokens expired or revoked more than 30 days ago",
    ),
]


@dataclass(frozen=True)
class CalendarJob:
    """A job that works for a day (or, `monthly`, a month): run as on a given day, it catches up through it."""

    name: str
    run_for: Callable[[Engine, Settings, date], str]
    monthly: bool = False


def _scores_for(engine: Engine, settings: Settings, day: date) -> str:
    """The scores as at the end of `day` (now, if that is later than now)."""
    end = clock.local_midnight(day + timedelta(days=1), settings.timezone)
    return score_jobs.nightly_scores(engine, settings, now=min(clock.now(), end))


CALENDAR: dict[str, CalendarJob] = {
    job.name: job
    for job in (
        CalendarJob("create-partitions", lambda e, s, day: sensor_jobs.create_partitions(e, s, today=day)),
        CalendarJob(
            "monthly-billing", lambda e, s, day: billing_jobs.monthly_billing(e, s, today=day), monthly=True
        ),
        CalendarJob("daily-penalties", lambda e, s, day: billing_jobs.daily_penalties(e, s, today=day)),
        CalendarJob("nightly-scores", _scores_for),
        CalendarJob("grade-buildings", lambda e, s, day: twin_jobs.grade_buildings(e, s, today=day)),
        CalendarJob("instalment-plans", lambda e, s, day: plan_jobs.instalment_plans(e, s, today=day)),
        CalendarJob("payment-reminders", lambda e, s, day: reminder_jobs.payment_reminders(e, s, today=day)),
        CalendarJob("reading-window", lambda e, s, day: window_jobs.reading_window(e, s, today=day)),
        CalendarJob(
            "reconcile-gateways", lambda e, s, day: reconciliation_jobs.reconcile_gateways(e, s, today=day)
        ),
    )
}


def _scheduled_at(trigger: BaseTrigger) -> time:
    """The local time of day a daily (or monthly) cron trigger fires at."""
    fields = {field.name: str(field) for field in getattr(trigger, "fields", [])}
    return time(int(fields.get("hour", "0")), int(fields.get("minute", "0")))


@dataclass(frozen=True)
class CalendarStatus:
    name: str
    done_through: date | None
    expected_through: date

    @property
    def behind(self) -> bool:
        return self.done_through is None or self.done_through < self.expected_through


def calendar_status(settings: Settings, engine: Engine, now: datetime | None = None) -> list[CalendarStatus]:
    """Each calendar job's progress against what it should have finished by `now`.

    A job is behind when it has not finished its day (or last month) `behind_after_minutes`
    after its scheduled time, or has never finished one.
    """
    now = now or clock.now()
    grace = timedelta(minutes=settings.scheduler.behind_after_minutes)
    timezone = settings.timezone
    found = []
    with session_scope(engine) as session:
        for job in JOBS:
            if job.name not in CALENDAR:
                continue
            expected = catchup.expected_through(
                now,
                timezone,
                monthly=CALENDAR[job.name].monthly,
                at=_scheduled_at(trigger_for(job, settings)),
                grace=grace,
            )
            found.append(CalendarStatus(job.name, catchup.done_through(session, job.name), expected))
    return found


def _lock_key(name: str) -> int:
    return zlib.crc32(f"housing-job:{name}".encode())


def run_job(settings: Settings, name: str, engine: Engine | None = None, on: date | None = None) -> str:
    """Runs one job now; a calendar job `on` a day runs as on that day (catching up through it).

    KeyError for an unknown name; ValueError for `on` with a job that is not a calendar job
    or a day that has not begun yet.
    """
    job = next((j for j in JOBS if j.name == name), None)
    if job is None:
        raise KeyError(name)
    if on is not None:
        if name not in CALENDAR:
            raise ValueError(
                f"{name} runs for the present moment; --on is for the calendar jobs: {', '.join(CALENDAR)}"
            )
        today = clock.local_today(settings.timezone)
        if on > today:
            raise ValueError(f"{on.isoformat()} has not begun yet (today is {today.isoformat()})")
    engine = engine or make_engine(settings)
    with session_scope(engine) as lock_session, advisory_lock(lock_session, _lock_key(name)) as granted:
        if not granted:
            return "skipped: another scheduler is running it"
        if on is not None:
            return CALENDAR[name].run_for(engine, settings, on)
        return job.run(engine, settings)


def _start_up(settings: Settings, engine: Engine) -> None:
    catch_up(settings, engine)
    heartbeat(engine, settings)


def catch_up(settings: Settings, engine: Engine) -> None:
    """Runs every calendar job once, oldest work first: what the worker does when it starts."""
    for name in CALENDAR:
        _logged(settings, name, engine)


def run_forever(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our own line per run says enough
    engine = make_engine(settings)
    scheduler = BlockingScheduler(timezone=settings.timezone)
    for job in JOBS:
        scheduler.add_job(
            _logged,
            trigger_for(job, settings),
            args=[settings, job.name, engine],
            id=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=300,
        )
    # What was missed while no worker ran, at once, in the pool beside the heartbeat job (a
    # long catch-up does not stop the worker looking alive), each under its job's lock as
    # always; the first heartbeat follows it, so a worker that says it is up has caught up.
    scheduler.add_job(_start_up, "date", args=[settings, engine], id="start-up", max_instances=1)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    log.info("scheduler started with %d jobs", len(JOBS))
    scheduler.start()


def _logged(settings: Settings, name: str, engine: Engine) -> None:
    try:
        log.info("%s: %s", name, run_job(settings, name, engine))
    except Exception:
        log.exception("job %s failed", name)
