"""Scheduled work of service requests: `request-deadlines`, every minute.

`now` may be given to run it by hand or under a frozen clock. Deferrals whose date has come
go back to work one request per transaction; a request that fails is logged with its id,
rolled back and skipped (the next run tries it again) and the summary counts it. Flagging
is then two set-based UPDATEs in one transaction (each flag is set once, so a second run
changes nothing).
"""

import logging
from datetime import datetime

from sqlalchemy import Engine

from housing import clock
from housing.db import session_scope
from housing.requests import service
from housing.settings import Settings

log = logging.getLogger(__name__)

BATCH = 200


def sweep_deadlines(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    now = now or clock.now()
    resumed = failed = 0
    skip: set[int] = set()  # failed in this run: not tried again until the next one
    while True:
        with session_scope(engine) as session:
            due = [r.id for r in service.due_deferrals(session, now=now, limit=BATCH + len(skip))]
        due = [request_id for request_id in due if request_id not in skip][:BATCH]
        for request_id in due:
            try:
                if _resume(engine, settings, request_id, now):
                    resumed += 1
            except Exception:
                log.exception(
                    "request %s: bringing the deferral back failed; skipped until the next run", request_id
                )
                failed += 1
                skip.add(request_id)
        if len(due) < BATCH:
            break
    with session_scope(engine) as session:
        overdue = service.mark_overdue(session, now=now)
        escalated = service.escalate_overdue(
            session, now=now, after=settings.requests.escalate_after, timezone=settings.timezone
        )
    summary = f"{resumed} deferred requests back in the queue, {overdue} newly overdue, {escalated} escalated"
    return summary + (f", {failed} failed" if failed else "")


def _resume(engine: Engine, settings: Settings, request_id: int, now: datetime) -> bool:
    """One deferral back in the queue, in its own transaction (rolled back if it raises)."""
    with session_scope(engine) as session:
        # Loaded again in its own transaction: staff may have resumed it meanwhile.
        request = service.due_deferral(session, request_id, now=now)
        if request is None:
            return False
        service.resume_deferred(
            session, request, now=now, emergency_deadline=settings.requests.emergency_deadline
        )
        return True
