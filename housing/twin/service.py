"""The twin's verbs: grading buildings. Flushes, never commits."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from housing.settings import Settings
from housing.twin.grading import COMPONENTS, building_grade, measure, rules_from
from housing.twin.inputs import grade_inputs
from housing.twin.models import BuildingGrade, GradeChange


@dataclass
class Graded:
    """What one grading run did: buildings graded, grades changed, buildings already graded later."""

    graded: int = 0
    changed: int = 0
    newer: int = 0


def grade_buildings(
    session: Session, *, day: date, now: datetime, settings: Settings, building_ids: Collection[int]
) -> Graded:
    """Grades the buildings as of `day` (at `now`, at most the day's end) and stores each grade.

    A building's row is replaced by the new grade and its components; when the grade
    differs from the stored one a GradeChange is recorded for `day` (its first grade too,
    with no previous one), and `since` moves to `day`; an unchanged grade keeps its `since`.
    A second run on the same day finds the same grade and records nothing new; a building
    already graded on a later day is left as it is (a day run late never moves it back).
    """
    rules = rules_from(settings)
    measured = grade_inputs(session, building_ids, day=day, now=now, settings=settings)
    stored = {
        row.building_id: row
        for row in session.exec(
            select(BuildingGrade).where(col(BuildingGrade.building_id).in_(list(measured)))
        )
    }
    done = Graded()
    for building_id, found in measured.items():
        row = stored.get(building_id)
        if row is not None and row.graded_on > day:
            done.newer += 1
            continue
        components = [measure(name, *found[name], rules) for name in COMPONENTS]
        grade = building_grade(components)
        if row is None:
            row = BuildingGrade(building_id=building_id, grade=grade, graded_on=day, graded_at=now, since=day)
            session.add(GradeChange(building_id=building_id, changed_on=day, previous=None, grade=grade))
            done.changed += 1
        elif row.grade != grade:
            session.add(GradeChange(building_id=building_id, changed_on=day, previous=row.grade, grade=grade))
            row.grade, row.since = grade, day
            done.changed += 1
        row.components = [c.as_json() for c in components]
        row.graded_on, row.graded_at = day, now
        session.add(row)
        done.graded += 1
    session.flush()
    return done
