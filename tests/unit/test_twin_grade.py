"""The grade's inputs read from the database, the grading verb and the nightly job (SQLite).

The day is Tuesday 17 November 2026, graded at noon in Tashkent; the window is the 30 days
19 October .. 17 November. The reports' rule is the settings' default: from 2026-Q3, due 30
days after the quarter, so Q3's is due on 30 October.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from housing.cli import app as cli
from housing.incidents.models import IncidentSource, Utility
from housing.registry.models import Apartment
from housing.requests.models import RequestStatus as S
from housing.requests.service import rate_request
from housing.scheduler import CALENDAR, JOBS, run_job
from housing.twin import jobs, service
from housing.twin.city import grade_changes, grade_counts
from housing.twin.grading import (
    DEBT_SHARE,
    INCIDENT_HOURS,
    METER_COVERAGE,
    OVERDUE_REQUESTS,
    RATING,
    REPORT_ON_TIME,
    Component,
    Grade,
)
from housing.twin.inputs import grade_inputs
from housing.twin.models import BuildingGrade, GradeChange
from sensors.models import Alert, AlertKind, MeterKind
from tests.conftest import TEST_SECRET, make_settings
from tests.factories.billing import make_billed_invoice, make_ledger_entry
from tests.factories.city_money import publish
from tests.factories.core import make_apartment, make_building
from tests.factories.requests import make_category, make_request, make_resident, move
from tests.factories.scores import add_incident
from tests.factories.sensors import make_meter
from tests.faults import allow_inserts, refuse_inserts

TASHKENT = ZoneInfo("Asia/Tashkent")
DAY = date(2026, 11, 17)
NOW = datetime.combine(DAY, time(12), TASHKENT)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TASHKENT)


@pytest.fixture
def settings(database_url):
    """No money report due yet (from 2026-Q4, due at the end of January): the tests of the other
    components see their own colour; the report's tests use `reports` below."""
    return make_settings(database_url, money={"reports_from": "2026-Q4"})


@pytest.fixture
def reports(database_url):
    """The settings' defaults: reports from 2026-Q3, Q3's due on 30 October."""
    return make_settings(database_url)


def flats(session, building, n: int, *, metered: bool = True):
    """`n` apartments, each with a smart cold-water meter unless told (full meter coverage)."""
    homes = [make_apartment(session, building) for _ in range(n)]
    for home in homes if metered else ():
        make_meter(session, home)
    return homes


def inputs_of(session, settings, building, *, day=DAY, now=NOW):
    return grade_inputs(session, [building.id], day=day, now=now, settings=settings)[building.id]


def graded(session, settings, *buildings, day=DAY, now=NOW):
    done = service.grade_buildings(
        session, day=day, now=now, settings=settings, building_ids=[b.id for b in buildings]
    )
    session.flush()
    return done


def stored(session, building) -> BuildingGrade:
    session.expire_all()
    return session.get(BuildingGrade, building.id)


def changes(session, building) -> list[tuple]:
    session.expire_all()
    rows = session.exec(
        select(GradeChange).where(GradeChange.building_id == building.id).order_by(GradeChange.id)
    )
    return [(c.changed_on, c.previous, c.grade) for c in rows]


# Incident hours


def test_incident_hours_per_apartment_clip_to_the_window_and_count_whole_building_incidents_for_every_flat(
    session, settings
):
    building = make_building(session)
    first, *_ = flats(session, building, 4)
    add_incident(
        session, building, started=at(date(2026, 11, 10), 10), ended=at(date(2026, 11, 10), 12)
    )  # 2 h x 4
    add_incident(  # cold flat since 09:00, open: 3 h to noon, one flat
        session, building, started=at(DAY, 9), ended=None, utility=Utility.heating, apartment_id=first.id
    )
    add_incident(  # 23:00 the day before the window to 01:00 in it: 1 h x 4
        session, building, started=at(date(2026, 10, 18), 23), ended=at(date(2026, 10, 19), 1)
    )
    add_incident(  # a planned outage was announced: not a failure
        session,
        building,
        started=at(date(2026, 11, 1), 8),
        ended=at(date(2026, 11, 1), 13),
        source=IncidentSource.planned,
    )
    add_incident(
        session, building, started=at(date(2026, 10, 1), 8), ended=at(date(2026, 10, 18), 23)
    )  # before

    value, inputs = inputs_of(session, settings, building)[INCIDENT_HOURS]

    assert (value, inputs["apartment_hours"], inputs["apartments"], inputs["incidents"]) == (3.75, 15.0, 4, 3)
    assert (inputs["from"], inputs["through"]) == ("2026-10-19", "2026-11-17")
    # Graded an hour later, the open incident has one more hour: 16 / 4 = 4.0, yellow's threshold.
    later = inputs_of(session, settings, building, now=NOW + timedelta(hours=1))[INCIDENT_HOURS][0]
    assert later == 4.0
    assert graded(session, settings, building, now=NOW + timedelta(hours=1)).graded == 1
    assert stored(session, building).grade == Grade.yellow


def test_a_past_day_counts_an_open_incident_up_to_that_days_end(session, settings):
    building = make_building(session)
    flats(session, building, 2)
    add_incident(session, building, started=at(date(2026, 11, 15), 20), ended=None)
    # Graded as of the 15th (a missed day run on the 17th): 4 h to midnight, x 2 flats / 2.
    end_of_15th = at(date(2026, 11, 16), 0)
    assert (
        inputs_of(session, settings, building, day=date(2026, 11, 15), now=end_of_15th)[INCIDENT_HOURS][0]
        == 4.0
    )


def test_a_building_without_apartments_has_no_sample_per_apartment(session, settings):
    building = make_building(session)
    add_incident(session, building, started=at(DAY, 8), ended=at(DAY, 9))
    found = inputs_of(session, settings, building)
    assert found[INCIDENT_HOURS][0] is None
    assert found[METER_COVERAGE][0] is None
    assert found[DEBT_SHARE][0] is None
    assert found[OVERDUE_REQUESTS][0] == 0.0
    graded(session, settings, building)
    components = [Component.from_json(c) for c in stored(session, building).components]
    assert [c.grade for c in components if c.name in (INCIDENT_HOURS, METER_COVERAGE, DEBT_SHARE)] == [
        None
    ] * 3


# Requests


def test_overdue_requests_are_those_open_past_their_deadline_now(session, settings):
    building = make_building(session)
    home = make_apartment(session, building)
    resident = make_resident(session, home)
    day_long = make_category(session, deadline_minutes=24 * 60)
    filed = NOW - timedelta(days=2)
    make_request(session, resident, home, day_long, now=filed)  # overdue
    make_request(session, resident, home, day_long, now=filed)  # overdue
    done = make_request(session, resident, home, day_long, now=filed)
    move(session, done, S.accepted, S.resolved, now=filed)
    make_request(session, resident, home, day_long, now=NOW - timedelta(hours=1))  # not due yet

    assert inputs_of(session, settings, building)[OVERDUE_REQUESTS] == (2.0, {"overdue": 2})


def test_the_rating_is_the_mean_of_requests_rated_in_the_window(session, settings):
    building = make_building(session)
    [home] = flats(session, building, 1)
    resident = make_resident(session, home)
    category = make_category(session)

    def rated(stars: int, on: datetime) -> None:
        request = make_request(session, resident, home, category, now=on - timedelta(days=1))
        move(session, request, S.accepted, S.resolved, now=on - timedelta(days=1))
        rate_request(session, request, person_id=resident.person_id, rating=stars, comment=None, now=on)

    assert inputs_of(session, settings, building)[RATING][0] is None  # none rated: no sample
    for stars, on in ((5, at(date(2026, 10, 19), 0)), (4, at(DAY, 11)), (3, at(date(2026, 11, 1), 9))):
        rated(stars, on)
    rated(1, at(date(2026, 10, 18), 23, 59))  # the day before the window
    value, inputs = inputs_of(session, settings, building)[RATING]
    assert (value, inputs["rated"]) == (4.0, 3)
    graded(session, settings, building)
    assert stored(session, building).grade == Grade.yellow  # 4.0 is yellow's threshold


# Meters and debts


def test_meter_coverage_counts_flats_with_a_smart_meter_in_service_and_none_silent(session, settings):
    building = make_building(session)
    covered, silent, manual, removed, future, two = flats(session, building, 6, metered=False)
    make_meter(session, covered)
    stale = make_meter(session, silent)
    make_meter(session, silent, kind=MeterKind.hot_water)  # reporting, but its neighbour is silent
    session.add(Alert(meter_id=stale.id, kind=AlertKind.stale, opened_at=NOW - timedelta(days=3)))
    closed = make_meter(session, two)
    make_meter(session, two, kind=MeterKind.electricity)
    session.add(  # a stale alert closed since: covered again; a leak does not uncover a flat
        Alert(
            meter_id=closed.id,
            kind=AlertKind.stale,
            opened_at=NOW - timedelta(days=9),
            closed_at=NOW - timedelta(days=8),
        )
    )
    session.add(Alert(meter_id=closed.id, kind=AlertKind.leak, opened_at=NOW - timedelta(days=1)))
    make_meter(session, manual, smart=False)
    make_meter(session, removed).removed_on = DAY
    make_meter(session, future, installed_on=DAY + timedelta(days=1))
    session.flush()

    assert inputs_of(session, settings, building)[METER_COVERAGE] == (0.3333, {"covered": 2, "apartments": 6})
    graded(session, settings, building)
    assert stored(session, building).grade == Grade.red  # at most 0.5 is red


def test_the_debt_share_counts_flats_owing_past_due(session, settings):
    building = make_building(session)
    homes = flats(session, building, 10)
    make_billed_invoice(session, homes[0], 500_000, period=date(2026, 9, 1))  # due 15 October: a debtor
    make_billed_invoice(session, homes[1], 500_000, period=date(2026, 9, 1))
    make_ledger_entry(session, homes[1], kind="payment", amount_minor=-500_000)  # paid in full
    make_billed_invoice(session, homes[2], 500_000, period=date(2026, 11, 1))  # due 15 December

    assert inputs_of(session, settings, building)[DEBT_SHARE] == (0.1, {"debtors": 1, "apartments": 10})
    graded(session, settings, building)
    assert stored(session, building).grade == Grade.yellow


# The money report


@pytest.mark.parametrize(
    ("published_on", "value", "state"),
    [
        (date(2026, 10, 30), 1.0, "published_on_time"),  # on its due day
        (date(2026, 10, 31), 0.5, "published_late"),
        (None, 0.0, "late"),
    ],
)
def test_the_last_due_report_is_on_time_late_or_missing(session, reports, published_on, value, state):
    building = make_building(session)
    if published_on:
        publish(session, building, "2026-Q3", on=published_on)
    assert inputs_of(session, reports, building)[REPORT_ON_TIME] == (
        value,
        {"quarter": "2026-Q3", "state": state},
    )


def test_no_report_due_yet_is_no_sample_and_one_published_early_counts(session, reports):
    building, early = make_building(session), make_building(session)
    publish(session, early, "2026-Q3", on=date(2026, 10, 5))
    day, now = date(2026, 10, 20), at(date(2026, 10, 20), 12)
    found = grade_inputs(session, [building.id, early.id], day=day, now=now, settings=reports)
    assert found[building.id][REPORT_ON_TIME] == (None, {})
    assert found[early.id][REPORT_ON_TIME][0] == 1.0


# Grading: stored grades and their changes


def test_the_first_grade_is_a_change_from_nothing_and_a_second_run_the_same_day_changes_nothing(
    session, settings
):
    building = make_building(session)
    flats(session, building, 2)

    assert graded(session, settings, building).changed == 1
    first = stored(session, building)
    assert (first.grade, first.graded_on, first.since) == (Grade.green, DAY, DAY)
    assert [c["name"] for c in first.components] == [
        INCIDENT_HOURS,
        OVERDUE_REQUESTS,
        RATING,
        METER_COVERAGE,
        DEBT_SHARE,
        REPORT_ON_TIME,
    ]
    again = graded(session, settings, building, now=NOW + timedelta(hours=2))
    assert (again.graded, again.changed) == (1, 0)
    assert changes(session, building) == [(DAY, None, Grade.green)]
    assert stored(session, building).graded_at == (NOW + timedelta(hours=2)).astimezone(UTC)


def test_a_building_crossing_a_threshold_records_one_change_that_the_weeks_list_shows(session, settings):
    building = make_building(session)
    home, *_ = flats(session, building, 4)
    yesterday = DAY - timedelta(days=1)
    graded(session, settings, building, day=yesterday, now=at(yesterday, 4, 30))
    assert stored(session, building).grade == Grade.green
    # A cold flat since 06:00 yesterday: by 04:30 today 22.5 h, plus a whole-building hour: (22.5 + 4) / 4 > 4.
    add_incident(
        session, building, started=at(yesterday, 6), ended=None, utility=Utility.heating, apartment_id=home.id
    )
    add_incident(session, building, started=at(yesterday, 7), ended=at(yesterday, 8))
    for _ in range(2):
        graded(session, settings, building, day=DAY, now=at(DAY, 4, 30))

    row = stored(session, building)
    assert (row.grade, row.since) == (Grade.yellow, DAY)
    assert changes(session, building) == [(yesterday, None, Grade.green), (DAY, Grade.green, Grade.yellow)]
    week, count = grade_changes(session, DAY)  # its first grade is no change
    assert [(c.building_id, c.previous, c.grade, c.changed_on) for c in week] == [
        (building.id, Grade.green, Grade.yellow, DAY)
    ]
    assert count == 1
    assert [c.changed_on for c in grade_changes(session, DAY + timedelta(days=6))[0]] == [DAY]  # the 7th day
    assert grade_changes(session, DAY + timedelta(days=7)) == ([], 0)
    counts = grade_counts(session, DAY)
    assert (counts.city.yellow, counts.city.total, counts.graded_on) == (1, 1, DAY)


def test_an_unchanged_grade_keeps_the_day_it_began(session, settings):
    building = make_building(session)
    flats(session, building, 1)
    for n in range(3):
        graded(session, settings, building, day=DAY + timedelta(days=n), now=at(DAY + timedelta(days=n), 5))
    row = stored(session, building)
    assert (row.since, row.graded_on) == (DAY, DAY + timedelta(days=2))
    assert len(changes(session, building)) == 1


def test_a_day_graded_late_never_moves_a_newer_grade_back(session, settings):
    building = make_building(session)
    flats(session, building, 1)
    graded(session, settings, building)
    done = graded(
        session, settings, building, day=DAY - timedelta(days=3), now=at(DAY - timedelta(days=3), 5)
    )
    assert (done.graded, done.newer) == (0, 1)
    assert stored(session, building).graded_on == DAY


def test_the_grade_follows_the_thresholds_in_settings(session, database_url):
    building = make_building(session)
    [home] = flats(session, building, 1)
    resident = make_resident(session, home)
    make_request(
        session, resident, home, make_category(session, deadline_minutes=60), now=NOW - timedelta(hours=2)
    )
    later = {"reports_from": "2026-Q4"}
    lenient = make_settings(
        database_url, money=later, twin={"overdue_requests_yellow": 2, "overdue_requests_red": 5}
    )
    strict = make_settings(
        database_url, money=later, twin={"overdue_requests_yellow": 0, "overdue_requests_red": 1}
    )

    graded(session, lenient, building)
    assert stored(session, building).grade == Grade.green
    graded(session, make_settings(database_url, money=later), building)
    assert stored(session, building).grade == Grade.yellow
    graded(session, strict, building)
    assert stored(session, building).grade == Grade.red
    assert [grade for _, _, grade in changes(session, building)] == [Grade.green, Grade.yellow, Grade.red]


def test_a_table_of_buildings_graded_at_once_takes_each_ones_worst_component(session, reports):
    """One batch, every building its own answer: no input of one leaks into another's."""
    quiet, leaky, late, indebted = (make_building(session) for _ in range(4))
    for building in (quiet, leaky, late, indebted):
        flats(session, building, 4)
        if building is not late:
            publish(session, building, "2026-Q3", on=date(2026, 10, 30))
    add_incident(
        session, leaky, started=at(date(2026, 11, 1), 0), ended=at(date(2026, 11, 2), 0)
    )  # 24 h: red
    make_billed_invoice(
        session, session.exec(select_apartment(indebted)).first(), 100, period=date(2026, 9, 1)
    )

    graded(session, reports, quiet, leaky, late, indebted)

    grades = {b.id: stored(session, b).grade for b in (quiet, leaky, late, indebted)}
    assert grades == {quiet.id: Grade.green, leaky.id: Grade.red, late.id: Grade.red, indebted.id: Grade.red}
    worst = {c["name"]: c["grade"] for c in stored(session, indebted).components}
    assert worst == {
        INCIDENT_HOURS: "green",
        OVERDUE_REQUESTS: "green",
        RATING: None,
        METER_COVERAGE: "green",
        DEBT_SHARE: "red",  # 1 of 4 = 0.25: red's threshold
        REPORT_ON_TIME: "green",
    }


def select_apartment(building):
    return select(Apartment).where(Apartment.building_id == building.id).order_by(Apartment.id)


# The job


def test_the_job_is_scheduled_after_the_nights_work_and_catches_up_as_a_calendar_job():
    [job] = [j for j in JOBS if j.name == jobs.GRADE_BUILDINGS]
    assert job.trigger.fields == {"hour": 4, "minute": 30}
    assert jobs.GRADE_BUILDINGS in CALENDAR


def test_the_job_grades_every_building_in_batches_and_a_failing_one_is_skipped(
    session, settings, db, monkeypatch, caplog, frozen_clock
):
    monkeypatch.setattr(jobs, "BATCH", 2)
    buildings = [make_building(session) for _ in range(5)]
    for building in buildings:
        make_apartment(session, building)
    session.commit()
    frozen_clock.at(DAY, 4, 30)
    broken = buildings[2]
    refuse_inserts(db, "building_grade", f"NEW.building_id = {broken.id}")
    try:
        summary = jobs.grade_buildings(db, settings)
    finally:
        session.rollback()
        allow_inserts(db, "building_grade")

    assert summary == (
        f"graded 4 of 5 buildings as of 2026-11-17: 4 changed grade; 1 failed (building {broken.id})"
    )
    assert f"building {broken.id} failed: rolled back and skipped" in caplog.text
    assert stored(session, broken) is None
    assert run_job(settings, jobs.GRADE_BUILDINGS, engine=db) == (
        "graded 5 of 5 buildings as of 2026-11-17: 1 changed grade"
    )
    assert run_job(settings, jobs.GRADE_BUILDINGS, engine=db, on=date(2026, 11, 16)) == (
        "graded 0 of 5 buildings as of 2026-11-16: 0 changed grade, 5 already graded on a later day"
    )
    session.expire_all()
    assert len(session.exec(select(GradeChange)).all()) == 5


def test_housing_jobs_run_grade_buildings_from_the_command_line(session, settings, db):
    make_apartment(session, make_building(session))
    session.commit()
    environment = {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": settings.db.url,
    }
    result = CliRunner().invoke(cli, ["jobs", "run", "grade-buildings"], env=environment)
    assert result.exit_code == 0, result.output
    assert "graded 1 of 1 buildings" in result.output


def test_deviation_is_not_needed_for_grading(session, settings):
    building = make_building(session)
    home = make_apartment(session, building)
    add_incident(
        session,
        building,
        started=at(DAY, 11),
        ended=None,
        utility=Utility.heating,
        apartment_id=home.id,
        deviation=Decimal("3.5"),
    )
    assert inputs_of(session, settings, building)[INCIDENT_HOURS][0] == 1.0
