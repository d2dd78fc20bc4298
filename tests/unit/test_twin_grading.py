"""The building grade's pure rules: each component at, just below and just above its
thresholds (the settings' defaults), no sample, the worst colour, and the thresholds' order."""

import pytest
from pydantic import ValidationError

from housing.settings import Settings, TwinSettings
from housing.twin.grading import (
    COMPONENTS,
    DEBT_SHARE,
    INCIDENT_HOURS,
    METER_COVERAGE,
    OVERDUE_REQUESTS,
    RATING,
    REPORT_ON_TIME,
    Component,
    Grade,
    building_grade,
    measure,
    rules_from,
)

G, Y, R = Grade.green, Grade.yellow, Grade.red
RULES = rules_from(Settings(environment="development"))
EPS = 0.01

# (component, value, colour) around the defaults: yellow at 4 h / 1 overdue / rating 4.0 /
# coverage 0.8 / debt 0.1, red at 24 h / 3 overdue / 3.0 / 0.5 / 0.25; a report late 0.5, missing 0.
TABLE = [
    (INCIDENT_HOURS, 0, G),
    (INCIDENT_HOURS, 4 - EPS, G),
    (INCIDENT_HOURS, 4, Y),
    (INCIDENT_HOURS, 4 + EPS, Y),
    (INCIDENT_HOURS, 24 - EPS, Y),
    (INCIDENT_HOURS, 24, R),
    (INCIDENT_HOURS, 24 + EPS, R),
    (INCIDENT_HOURS, 10_000, R),
    (OVERDUE_REQUESTS, 0, G),
    (OVERDUE_REQUESTS, 1, Y),
    (OVERDUE_REQUESTS, 2, Y),
    (OVERDUE_REQUESTS, 3, R),
    (OVERDUE_REQUESTS, 4, R),
    (RATING, 5, G),
    (RATING, 4 + EPS, G),
    (RATING, 4, Y),
    (RATING, 4 - EPS, Y),
    (RATING, 3 + EPS, Y),
    (RATING, 3, R),
    (RATING, 3 - EPS, R),
    (RATING, 1, R),
    (METER_COVERAGE, 1, G),
    (METER_COVERAGE, 0.8 + EPS, G),
    (METER_COVERAGE, 0.8, Y),
    (METER_COVERAGE, 0.8 - EPS, Y),
    (METER_COVERAGE, 0.5 + EPS, Y),
    (METER_COVERAGE, 0.5, R),
    (METER_COVERAGE, 0, R),
    (DEBT_SHARE, 0, G),
    (DEBT_SHARE, 0.1 - EPS, G),
    (DEBT_SHARE, 0.1, Y),
    (DEBT_SHARE, 0.25 - EPS, Y),
    (DEBT_SHARE, 0.25, R),
    (DEBT_SHARE, 1, R),
    (REPORT_ON_TIME, 1, G),
    (REPORT_ON_TIME, 0.5, Y),
    (REPORT_ON_TIME, 0, R),
]


@pytest.mark.parametrize(("name", "value", "colour"), TABLE)
def test_each_component_at_and_around_its_thresholds(name, value, colour):
    component = measure(name, value, {"n": 1}, RULES)
    assert component.grade is colour
    assert component.inputs == {"n": 1}


def test_the_table_covers_every_component():
    assert {name for name, _, _ in TABLE} == set(COMPONENTS)


@pytest.mark.parametrize("name", COMPONENTS)
def test_a_component_without_a_sample_has_no_colour_and_does_not_count(name):
    assert measure(name, None, {}, RULES).grade is None
    red = measure(INCIDENT_HOURS, 100, {}, RULES)
    assert building_grade([measure(name, None, {}, RULES), red]) is R
    assert building_grade([measure(name, None, {}, RULES)]) is G


@pytest.mark.parametrize(
    ("colours", "grade"),
    [
        ([], G),
        ([G, G, G], G),
        ([G, Y, G], Y),
        ([Y, R, G], R),
        ([R, Y], R),
        ([None, Y, None], Y),
        ([None, None], G),
    ],
)
def test_the_building_takes_its_worst_colour(colours, grade):
    components = [Component(f"c{i}", None if c is None else 1.0, {}, c) for i, c in enumerate(colours)]
    assert building_grade(components) is grade


def test_a_component_round_trips_through_json():
    component = measure(RATING, 3.5, {"rated": 4}, RULES)
    assert Component.from_json(component.as_json()) == component
    assert Component.from_json(measure(RATING, None, {}, RULES).as_json()).grade is None


def test_thresholds_come_from_settings():
    strict = rules_from(
        Settings(environment="development", twin={"overdue_requests_yellow": 0, "overdue_requests_red": 1})
    )
    assert measure(OVERDUE_REQUESTS, 0, {}, strict).grade is Y
    assert measure(OVERDUE_REQUESTS, 1, {}, strict).grade is R
    assert measure(OVERDUE_REQUESTS, 1, {}, RULES).grade is Y


@pytest.mark.parametrize(
    ("field", "yellow", "red"),
    [
        ("incident_hours", 10, 5),
        ("overdue_requests", 3, 1),
        ("rating", 3.0, 4.0),
        ("meter_coverage", 0.5, 0.8),
        ("debt_share", 0.3, 0.2),
    ],
)
def test_red_milder_than_yellow_is_refused(field, yellow, red):
    with pytest.raises(ValidationError, match=f"{field}_red .* milder than {field}_yellow"):
        TwinSettings(**{f"{field}_yellow": yellow, f"{field}_red": red})
    TwinSettings(**{f"{field}_yellow": yellow, f"{field}_red": yellow})  # equal: straight to red


def test_absurd_thresholds_are_refused():
    for bad in (
        {"rating_yellow": 6},
        {"meter_coverage_red": -0.1},
        {"debt_share_yellow": 2},
        {"grade_window_days": 0},
    ):
        with pytest.raises(ValidationError):
            TwinSettings(**bad)
