"""Scheduled work of quality scores: `nightly-scores`.

Recomputes the previous and the current month and stores them, one transaction per month.
The previous month keeps changing until its last requests are resolved and rated, so it
is recomputed every night of the following month; after that its stored rows stay as
they are, and are what anyone checks a past score against.
"""

from datetime import datetime

from sqlalchemy import Engine

from housing.db import session_scope, utcnow
from housing.scores import periods, service
from housing.settings import Settings


def nightly_scores(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    now = now or utcnow()
    this_month = periods.month_at(now, settings.timezone)
    done = []
    for period in (periods.add_months(this_month, -1), this_month):
        with session_scope(engine) as session:
            scored = service.recompute_month(session, periods.month(period, settings.timezone), now=now)
        done.append(f"{period:%Y-%m}: {scored} companies")
    return "scored " + ", ".join(done)
