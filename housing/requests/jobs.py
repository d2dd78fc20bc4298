"""Scheduled work of service requests: `request-deadlines`, every minute.

`now` may be given to run it by hand or under a frozen clock. Flagging is two set-based
UPDATEs in one transaction (each flag is set once, so a second run changes nothing);
deferrals whose date has come go back to work one request per transaction.
"""

from datetime import datetime

from sqlalchemy import Engine

from housing.db import session_scope, utcnow
from housing.requests import service
from housing.settings import Settings

BATCH = 200


def sweep_deadlines(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    now = now or utcnow()
    resumed = 0
    while True:
        with session_scope(engine) as session:
            due = [r.id for r in service.due_deferrals(session, now=now, limit=BATCH)]
        for request_id in due:
            with session_scope(engine) as session:
                # Loaded again in its own transaction: staff may have resumed it meanwhile.
                request = service.due_deferral(session, request_id, now=now)
                if request is not None:
                    service.resume_deferred(
                        session, request, now=now, emergency_deadline=settings.requests.emergency_deadline
                    )
                    resumed += 1
        if len(due) < BATCH:
            break
    with session_scope(engine) as session:
        overdue = service.mark_overdue(session, now=now)
        escalated = service.escalate_overdue(session, now=now, after=settings.requests.escalate_after)
    return f"{resumed} deferred requests back in the queue, {overdue} newly overdue, {escalated} escalated"
