"""Scheduled work of quality scores: `nightly-scores`.

Recomputes and stores every month from the one it last ran in (or the previous month, if
that is earlier) through the current month, one transaction per month, and records the day
in `job_progress`. Each night that is the previous and the current month: the previous
month keeps changing until its last requests are resolved and rated, so it is recomputed
every night of the following month; after that its stored rows stay as they are, and are
what anyone checks a past score against. After nights the job did not run (a worker down
over a month's end), the months it missed are computed too, so no month is left with the
partial score of its first days.
"""

import zlib
from datetime import datetime

from sqlalchemy import Engine, text

from housing import clock
from housing.catchup import service as catchup
from housing.db import is_postgres, session_scope
from housing.scores import service
from housing.settings import Settings

NIGHTLY_SCORES = "nightly-scores"  # the job's name in the scheduler's table and job_progress
LOCK_KEY = zlib.crc32(b"housing-scores:month")


def nightly_scores(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    now = now or clock.now()
    this_month = clock.month_at(now, settings.timezone)
    first = clock.add_months(this_month, -1)
    with session_scope(engine) as session:
        finished = catchup.done_through(session, NIGHTLY_SCORES)
    if finished is not None:
        first = min(first, finished.replace(day=1))
    done = []
    for period in catchup.months(first, this_month):
        with session_scope(engine) as session:
            if is_postgres(engine):  # a second copy at once waits, then replaces this one's rows
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            scored = service.recompute_month(session, clock.month(period, settings.timezone), now=now)
            if period == this_month:
                catchup.mark_done(session, NIGHTLY_SCORES, catchup.local_date(now, settings.timezone))
        done.append(f"{period:%Y-%m}: {scored} companies")
    return "scored " + ", ".join(done)
