"""Scheduled work of owners' meetings.

`close-meetings` (every 5 minutes) counts each meeting whose voting has ended, one meeting per
transaction: a meeting staff closed meanwhile is skipped (the close locks the meeting row, so
two closes never both count), and one that fails is logged and retried on the next run.
`meeting-reminders` (daily) reminds whoever has not voted for a share `reminder_days` before
the end; the reminders' dedupe keys make a second run remind nobody twice. `now` may be
given to run either by hand or under a frozen clock.
"""

import logging
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import select

from housing import clock
from housing.db import session_scope
from housing.errors import Conflict
from housing.meetings import closing, notices
from housing.meetings.models import Meeting
from housing.settings import Settings

log = logging.getLogger(__name__)


def close_meetings(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    now = now or clock.now()
    with session_scope(engine) as session:
        due = closing.due_for_close(session, now=now)
    closed = skipped = failed = 0
    for meeting_id in due:
        try:
            with session_scope(engine) as session:
                meeting = session.exec(select(Meeting).where(Meeting.id == meeting_id)).one()
                closing.close_meeting(session, meeting, actor=None, settings=settings, now=now)
            closed += 1
        except Conflict:
            skipped += 1  # closed or cancelled meanwhile
        except Exception:
            log.exception("meeting %s: the close failed; tried again on the next run", meeting_id)
            failed += 1
    summary = f"{closed} meetings closed"
    if skipped:
        summary += f", {skipped} already closed"
    return summary + (f", {failed} failed" if failed else "")


def meeting_reminders(engine: Engine, settings: Settings, now: datetime | None = None) -> str:
    now = now or clock.now()
    with session_scope(engine) as session:
        due = notices.due_for_reminder(session, settings=settings, now=now)
    reminded = failed = 0
    for meeting_id in due:
        try:
            with session_scope(engine) as session:
                meeting = session.exec(select(Meeting).where(Meeting.id == meeting_id)).one()
                reminded += notices.remind_voters(session, meeting, settings=settings, now=now)
        except Exception:
            log.exception("meeting %s: reminders failed; tried again on the next run", meeting_id)
            failed += 1
    summary = f"{reminded} reminders for {len(due)} meetings"
    return summary + (f", {failed} failed" if failed else "")
