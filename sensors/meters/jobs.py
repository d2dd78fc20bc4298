"""`reading-window`, a daily calendar job: the reading window's notices (`sensors.meters.reminders`).

Run for a day (`housing jobs run reading-window --on 2026-12-23`); the notices are keyed per
window and apartment, so a day run twice writes nothing new, and the window's opening missed
by the job is told on its next run inside the window. A failing apartment is skipped and
retried the next run (`housing.notifications.batches`).
"""

from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from housing import clock
from housing.catchup import service as catchup
from housing.db import session_scope
from housing.notifications.batches import record_progress, write_isolated
from housing.settings import Settings
from sensors.meters import reminders as window_reminders
from sensors.meters.window import window_of

READING_WINDOW = "reading-window"  # the job's name in the scheduler's table and job_progress


def reading_window(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Tells residents the reading window opened (on its first day, or the first run after it
    that the job missed) and, from `window_closing_days` before it closes, which manual meters
    still have no reading. A day run twice or late writes each notice once (keyed per window).
    """
    zone = settings.timezone
    today = today or clock.local_today(zone)
    window = window_of(today, settings.meters.window_start_day, settings.meters.window_end_day)
    with session_scope(engine) as session:
        finished = catchup.done_through(session, READING_WINDOW)
    if window is None:
        line = f"reading window {today.isoformat()}: closed today, nothing to send"
        failed: list[int] = []
    else:
        kinds = []
        if window.opens == today or (finished is not None and finished < window.opens):
            kinds.append(window_reminders.OPEN)
        if today >= window.closing_from(settings.notify.window_closing_days):
            kinds.append(window_reminders.CLOSING)
        now = clock.now()
        parts, failed = [], []
        for kind in kinds:
            with session_scope(engine) as session:
                ids = window_reminders.apartments_to_remind(session, kind, window, today, zone)

            def work(session: Session, chunk: list[int], kind: str = kind) -> int:
                return window_reminders.remind(
                    session, chunk, kind=kind, window=window, today=today, timezone=zone, now=now
                )

            written, lost = write_isolated(engine, ids, work, "apartment")
            parts.append(f"{written} {kind} notices for {len(ids)} apartments")
            failed += lost
        line = f"reading window {window.opens}..{window.closes} on {today.isoformat()}: " + (
            "; ".join(parts) or "nothing to send today"
        )
    # With a failure, the next run does `today` again.
    record_progress(engine, READING_WINDOW, today - timedelta(days=1) if failed else today)
    return line + (f"; {len(failed)} apartments failed ({', '.join(map(str, failed))})" if failed else "")
