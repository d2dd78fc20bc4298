"""The scheduler process: an explicit table of jobs, each also runnable by hand.

A job only finds what is due and hands it to a function; it runs under a PostgreSQL
advisory lock named after the job, so a second scheduler started by mistake is harmless.
Calendar jobs (`Cron`) run on the city's calendar: their time zone is `HOUSING_TIMEZONE`,
given when the scheduler starts (`trigger_for`), never written into the table.
"""

import logging
import signal
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from billing import jobs as billing_jobs
from billing.payments import jobs as payment_jobs
from housing.accounts.service import purge_expired_tokens
from housing.db import advisory_lock, make_engine, session_scope
from housing.requests import jobs as request_jobs
from housing.scores import jobs as score_jobs
from housing.settings import Settings
from sensors import jobs as sensor_jobs

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
        "Issues last month's invoices, one per personal account",
    ),
    Job(
        "reconcile-payments",
        IntervalTrigger(minutes=5),
        payment_jobs.reconcile_payments,
        "Fetches card payments still pending after a while from Stripe; cancels abandoned ones",
    ),
    Job(
        "daily-penalties",
        cron(hour=1, minute=30),
        billing_jobs.daily_penalties,
        "Books the day's late-payment penalties (HOUSING_BILLING__PENALTY_RATE a day, up to the cap)",
    ),
    Job(
        "nightly-scores",
        cron(hour=4, minute=0),
        score_jobs.nightly_scores,
        "Recomputes and stores the quality scores of the previous and the current month",
    ),
    Job(
        "purge-tokens",
        cron(hour=3, minute=30),
        purge_tokens,
        "Deletes tokens expired or revoked more than 30 days ago",
    ),
]


def _lock_key(name: str) -> int:
    return zlib.crc32(f"housing-job:{name}".encode())


def run_job(settings: Settings, name: str, engine: Engine | None = None) -> str:
    job = next((j for j in JOBS if j.name == name), None)
    if job is None:
        raise KeyError(name)
    engine = engine or make_engine(settings)
    with session_scope(engine) as lock_session, advisory_lock(lock_session, _lock_key(name)) as granted:
        if not granted:
            return "skipped: another scheduler is running it"
        return job.run(engine, settings)


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
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    heartbeat(engine, settings)
    log.info("scheduler started with %d jobs", len(JOBS))
    scheduler.start()


def _logged(settings: Settings, name: str, engine: Engine) -> None:
    try:
        log.info("%s: %s", name, run_job(settings, name, engine))
    except Exception:
        log.exception("job %s failed", name)
