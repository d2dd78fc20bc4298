"""Scheduled work of quality scores: `nightly-scores`.

Recomputes and stores every month from the one it last ran in (or the previous month, if
earlier) through the current month, one transaction per month (docs/quality-score.md, "When
it is computed"). A month that fails is logged, rolled back and reported in the summary; the
other months are still scored, and progress does not move past it, so the next night retries.
"""

import logging
import zlib
from datetime import date, datetime

from sqlalchemy import Engine, text

from housing import clock
from housing.building_money.deadlines import ReportDeadlines
from housing.catchup import service as catchup
from housing.db import is_postgres, session_scope
from housing.scores import service
from housing.settings import Settings

NIGHTLY_SCORES = "nightly-scores"  # the job's name in the scheduler's table and job_progress
LOCK_KEY = zlib.crc32(b"housing-scores:month")

log = logging.getLogger(__name__)


def nightly_scores(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    now = now or clock.now()
    this_month = clock.month_at(now, settings.timezone)
    first = clock.add_months(this_month, -1)
    with session_scope(engine) as session:
        finished = catchup.done_through(session, NIGHTLY_SCORES)
    if finished is not None:
        first = min(first, finished.replace(day=1))
    done, failed = [], 0
    for period in catchup.months(first, this_month):
        try:
            scored = _score_month(
                engine, settings, period, now, mark_done=period == this_month and not failed
            )
        except Exception:
            log.exception("scores of %s failed; the other months go on", f"{period:%Y-%m}")
            failed += 1
            done.append(f"{period:%Y-%m}: failed")
            continue
        done.append(f"{period:%Y-%m}: {scored} companies")
    return "scored " + ", ".join(done) + (f" ({failed} failed)" if failed else "")


def _score_month(engine: Engine, settings: Settings, period: date, now: datetime, *, mark_done: bool) -> int:
    """One month's scores in one transaction (rolled back if it raises)."""
    with session_scope(engine) as session:
        if is_postgres(engine):  # a second copy at once waits, then replaces this one's rows
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        scored = service.recompute_month(
            session,
            clock.month(period, settings.timezone),
            now=now,
            deadlines=ReportDeadlines.of(settings.money, settings.timezone),
        )
        if mark_done:
            catchup.mark_done(session, NIGHTLY_SCORES, clock.local_day(now, settings.timezone))
    return scored
