"""The daily `reconcile-gateways` job: each gateway's yesterday reconciled, and missed days too.

Run for a day (the scheduler's today), it reconciles the day before for every gateway, after
every earlier day a run was missed for: `job_progress` records the last run day finished (its
day before reconciled), so a worker down for three days reconciles the three days when it
comes back. One transaction per gateway and day; one that fails is logged and skipped, the
others go on, and the progress stays before the failed day so the next run tries it again
(reconciling a day again gives the same rows). First it cancels the Payme and Click checkouts
no provider opened within `HOUSING_RECONCILE__ABANDON_CHECKOUT_HOURS`.
"""

import logging
from datetime import date, timedelta

from sqlalchemy import Engine

from billing.models import Gateway
from billing.payments.merchant import abandon_checkouts
from billing.payments.reconciliation.service import reconcile_day
from housing import clock
from housing.catchup import service as catchup
from housing.db import session_scope
from housing.settings import Settings

log = logging.getLogger(__name__)

RECONCILE_GATEWAYS = "reconcile-gateways"  # the job's name, as the scheduler's table and job_progress know it


def reconcile_gateways(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Reconciles every gateway's days from the one after the last run through yesterday; a summary line."""
    timezone = settings.timezone
    today = today or clock.local_today(timezone)
    abandoned = _abandon(engine, settings)
    with session_scope(engine) as session:
        finished = catchup.done_through(session, RECONCILE_GATEWAYS)
    first_run = today if finished is None else min(finished + timedelta(days=1), today)
    runs = list(catchup.days(first_run, today))
    differences = failed = 0
    failed_days: list[str] = []
    progress_stops = False
    for run_day in runs:
        day = run_day - timedelta(days=1)
        day_failed = False
        for gateway in Gateway:
            try:
                with session_scope(engine) as session:
                    run = reconcile_day(session, gateway, day, timezone=timezone, now=clock.now())
                    found = run.differences
            except Exception:  # that gateway's day rolled back; the others go on
                log.exception("reconcile gateways: %s %s failed and is left for the next run", gateway, day)
                failed += 1
                day_failed = True
                failed_days.append(f"{gateway} {day.isoformat()}")
                continue
            differences += found
        progress_stops = progress_stops or day_failed
        if not progress_stops:
            with session_scope(engine) as session:
                catchup.mark_done(session, RECONCILE_GATEWAYS, run_day)
    days = runs[0] - timedelta(days=1), runs[-1] - timedelta(days=1)
    span = days[0].isoformat() if days[0] == days[1] else f"{days[0].isoformat()}..{days[1].isoformat()}"
    line = f"reconcile gateways {span}: {differences} differences; {abandoned}"
    if failed:
        line += f"; {failed} failed ({', '.join(failed_days[:5])}), the next run tries them again"
    return line


def _abandon(engine: Engine, settings: Settings) -> str:
    now = clock.now()
    try:
        with session_scope(engine) as session:
            count = abandon_checkouts(
                session, before=now - timedelta(hours=settings.reconcile.abandon_checkout_hours), now=now
            )
    except Exception:
        log.exception("reconcile gateways: cancelling abandoned checkouts failed")
        return "abandoned checkouts not cancelled (failed; the next run tries again)"
    return f"{count} abandoned checkouts cancelled"
