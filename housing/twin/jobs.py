"""Scheduled work of the twin: the nightly `grade-buildings` job.

It grades every building as of a day (today by default; `housing jobs run grade-buildings
--on DAY` for another) in batches of `BATCH` buildings by id, one transaction per batch; a
failing batch is done again one building at a time and a failing building is logged and
skipped (housing.batches). The grade is a state "as of now", not a history: a missed day is
caught up by grading the latest day only (overdue requests and debts are read as they are),
and the day is recorded in `job_progress` so `housing health worker` sees the job behind.
"""

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from housing import clock
from housing.batches import each_batch, failures
from housing.catchup import service as catchup
from housing.db import session_scope
from housing.registry.models import Building
from housing.settings import Settings
from housing.twin import service

GRADE_BUILDINGS = "grade-buildings"  # the job's name in the scheduler's table and job_progress
BATCH = 200


def grade_buildings(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Grades every building as of `today` (the city's today unless given); a summary line."""
    today = today or clock.local_today(settings.timezone)
    # A past day is graded as at its end; today as at now.
    now = min(clock.now(), clock.local_midnight(today + timedelta(days=1), settings.timezone))
    tally: Counter[str] = Counter()

    def due(session: Session, after: int) -> list[int]:
        query = select(Building.id).where(Building.id > after).order_by(Building.id).limit(BATCH)
        return list(session.exec(query))

    def work(session: Session, ids: list[int]) -> None:
        done = service.grade_buildings(session, day=today, now=now, settings=settings, building_ids=ids)
        tally.update(graded=done.graded, changed=done.changed, newer=done.newer)

    checked, failed = each_batch(engine, due, work, [tally], "building")
    if not failed:  # a day with a failed building is not done: the health check shows it behind
        with session_scope(engine) as session:
            catchup.mark_done(session, GRADE_BUILDINGS, today)
    newer = f", {tally['newer']} already graded on a later day" if tally["newer"] else ""
    return (
        f"graded {tally['graded']} of {checked} buildings as of {today.isoformat()}: "
        f"{tally['changed']} changed grade{newer}{failures(failed, 'building')}"
    )
