"""The building view's state: the grid and its marks, what a resident may not see, the common
state, the grade; and the chart geometry. On SQLite (and PostgreSQL when the suite runs there)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlmodel import select

from housing.twin.building import COLD, DEBT, LEAK, REQUEST, SILENT, HourlyCache, Viewer, building_state
from housing.twin.chart import HEIGHT, Hour, line_chart
from sensors.models import Measurement, Sensor, SensorKind
from tests.factories.core import make_apartment, make_building
from tests.factories.twin import NOW, make_twin_building

FULL = Viewer(full=True)


@pytest.fixture
def twin(session):
    made = make_twin_building(session)
    session.commit()
    return made


def _cells(state):
    return {cell.number: cell for cell in state.grid.cells()}


def test_the_grid_is_entrances_by_floors_top_floor_first_with_unplaced_apart(session, settings, twin):
    state = building_state(session, twin.building, FULL, settings, NOW)
    grid = state.grid
    assert [e.entrance for e in grid.entrances] == [1, 2]
    assert [row.floor for row in grid.entrances[0].floors] == [3, 2, 1]
    assert [c.number for c in grid.entrances[0].floors[0].cells] == ["5", "6"]
    assert [c.number for c in grid.entrances[1].floors[-1].cells] == ["7", "8"]
    assert [c.number for c in grid.unplaced] == ["99"]
    assert grid.apartments == 13


def test_every_mark_lands_on_its_apartment_and_nowhere_else(session, settings, twin):
    cells = _cells(building_state(session, twin.building, FULL, settings, NOW))
    assert cells["3"].marks == (LEAK,)
    assert cells["5"].marks == (COLD,)
    assert cells["7"].marks == (SILENT,)
    assert cells["9"].marks == (DEBT,)
    assert cells["11"].marks == (REQUEST,)
    assert cells["2"].marks == ()  # its leak alert is closed
    marked = {n for n, c in cells.items() if c.marks}
    assert marked == {"3", "5", "7", "9", "11"}


def test_a_resident_sees_technical_marks_only_and_common_requests(session, settings, twin):
    viewer = Viewer(full=False, homes=frozenset({twin.apartments["1"].id}))
    state = building_state(session, twin.building, viewer, settings, NOW)
    cells = _cells(state)
    assert {n for n, c in cells.items() if c.marks} == {"3", "5", "7"}
    assert cells["1"].home and not cells["2"].home
    assert [r.id for r in state.requests] == [twin.common_request.id]
    assert state.debts_minor is None
    assert state.grid.counts[DEBT] == 0 and state.grid.counts[REQUEST] == 0


def test_staff_see_every_open_request_and_the_debt(session, settings, twin):
    state = building_state(session, twin.building, FULL, settings, NOW)
    assert {r.id for r in state.requests} == {twin.request.id, twin.common_request.id}
    assert state.debts_minor == 12_345_00
    assert {r.apartment for r in state.requests} == {"11", None}


def test_the_common_state(session, settings, twin):
    state = building_state(session, twin.building, FULL, settings, NOW)
    assert state.hot_water.sensors == 1
    assert state.hot_water.latest.mean == Decimal("50.0")
    assert len(state.hot_water.hours) == 5
    assert state.indoor.sensors == 2
    assert state.indoor.latest.mean == Decimal("21.0")
    assert (state.indoor.latest.low, state.indoor.latest.high) == (Decimal("20.0"), Decimal("22.0"))
    assert state.indoor.norm == Decimal("18.0")
    [heat] = state.heat_meters
    assert heat.value == Decimal("101.500")
    assert heat.read_at == NOW - timedelta(hours=1)
    assert heat.this_month is not None and heat.this_month > 0
    [outage] = state.interruptions  # the cold flat's incident is a mark, not a line here
    assert outage.id == twin.incident.id and outage.ongoing
    assert outage.duration_hours == 5.0 and outage.allowed_hours == 4.0 and outage.over_allowance
    assert state.cold_flats == 1


def test_the_grade_with_its_components_or_none(session, settings, twin):
    state = building_state(session, twin.building, FULL, settings, NOW)
    assert state.grade.grade == "yellow"
    assert [c.name for c in state.grade.components] == ["incident_hours", "debt_share"]
    assert state.grade.components[0].inputs == {"apartment_hours": 60, "apartments": 13}
    bare = make_building(session)
    session.commit()
    assert building_state(session, bare, FULL, settings, NOW).grade is None


def test_an_empty_building_builds(session, settings):
    bare = make_building(session)
    session.commit()
    state = building_state(session, bare, FULL, settings, NOW)
    assert state.grid.apartments == 0 and state.grid.entrances == () and state.grid.unplaced == ()
    assert state.hot_water.chart.empty and state.heat_meters == () and state.requests == ()


def test_the_number_of_queries_does_not_grow_with_the_apartments(db, session, settings, twin):
    def count_for(building) -> int:
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db, "before_cursor_execute", listener)
        try:
            building_state(session, building, FULL, settings, NOW)
        finally:
            event.remove(db, "before_cursor_execute", listener)
        return len(statements)

    small = count_for(twin.building)
    for n in range(40):
        make_apartment(session, twin.building, number=f"{200 + n}", entrance=1 + n % 2, floor=1 + n % 3)
    session.commit()
    assert count_for(twin.building) == small


# The chart geometry (pure)

START = datetime(2026, 12, 1, 8, tzinfo=UTC)
END = START + timedelta(hours=24)


def _hour(h: int, mean: str, low: str | None = None, high: str | None = None) -> Hour:
    return Hour(START + timedelta(hours=h), Decimal(mean), Decimal(low or mean), Decimal(high or mean), 1)


def test_hours_in_a_row_are_one_line_and_a_missing_hour_breaks_it():
    chart = line_chart([_hour(0, "60"), _hour(1, "61"), _hour(3, "62")], START, END)
    assert len(chart.segments) == 2
    assert chart.segments[0].count(",") == 2 and chart.segments[1].count(",") == 1


def test_warmer_is_higher_and_everything_stays_inside_the_box():
    chart = line_chart([_hour(0, "40", "35", "45"), _hour(1, "70", "65", "75")], START, END, Decimal(60))
    first, second = chart.points
    assert second.y < first.y  # SVG y grows downwards
    for point in chart.points:
        assert chart.left <= point.x <= chart.right
        assert 0 <= point.y_high <= point.y <= point.y_low <= HEIGHT
    assert second.y < chart.norm_y < first.y
    assert chart.points[0].x < chart.points[1].x


def test_a_flat_line_and_hours_outside_the_window_and_no_hours():
    chart = line_chart([_hour(0, "21"), _hour(1, "21"), _hour(30, "99"), _hour(-2, "99")], START, END)
    assert len(chart.points) == 2 and chart.points[0].y == chart.points[1].y
    empty = line_chart([], START, END, Decimal(18))
    assert empty.empty and empty.segments == () and empty.norm_y is not None
    with pytest.raises(ValueError):
        line_chart([], END, START)


def test_hour_marks_are_local_time():
    chart = line_chart([], START, END, timezone="Asia/Tashkent")
    assert [t.label for t in chart.hours] == ["13:00", "19:00", "01:00", "07:00", "13:00"]


def test_the_chart_cache_gives_the_same_hours_and_reads_only_the_running_hour_again(
    db, session, settings, twin
):
    cache = HourlyCache()
    plain = building_state(session, twin.building, FULL, settings, NOW)
    first = building_state(session, twin.building, FULL, settings, NOW, cache)
    assert first.indoor.hours == plain.indoor.hours and first.hot_water.hours == plain.hot_water.hours
    hot = session.exec(select(Sensor).where(Sensor.kind == SensorKind.hot_water_temperature)).first()
    late = NOW - timedelta(hours=3, minutes=50)  # in a completed hour
    running = NOW.replace(minute=5)  # in the running hour
    for at, value in ((late, "10.0"), (running, "70.0")):
        session.add(Measurement(sensor_id=hot.id, taken_at=at, value=Decimal(value), received_at=at))
    session.commit()
    cached = building_state(session, twin.building, FULL, settings, NOW, cache)
    assert cached.hot_water.latest.high == Decimal("70.0")  # the running hour is read each time
    assert min(h.low for h in cached.hot_water.hours) == Decimal("50.0")  # the completed hour kept
    later = NOW + cache.ttl
    fresh = building_state(session, twin.building, FULL, settings, later, cache)
    assert min(h.low for h in fresh.hot_water.hours) == Decimal("10.0")  # after the ttl, read again
