"""The city map's points: each layer's value for a small city, the filters, and who sees which buildings.

Four buildings in two districts: A's two (one graded green, one red), B's one (yellow) and
one nobody manages today (not graded). Incidents, overdue requests, cold flats and meetings
are placed so that each layer's value differs by building, with decoys that must not count
(an ended incident, a planned outage not started yet, a request not overdue, a draft meeting,
a meeting whose voting ended).
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from housing.accounts.models import Role
from housing.actors import Actor
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.meetings.models import InitiatorKind, Meeting, MeetingStatus
from housing.registry.models import Building, ManagementCompany
from housing.twin.grading import COMPONENTS, DEBT_SHARE, REPORT_ON_TIME, Component, Grade
from housing.twin.map import (
    FIELDS,
    Layer,
    MapFilters,
    Scale,
    map_points,
    map_statement,
    points_json,
    scale_of,
)
from housing.twin.models import BuildingGrade
from tests.conftest import make_settings
from tests.factories.core import (
    make_apartment,
    make_building,
    make_company,
    make_district,
    make_owner,
    make_user,
)
from tests.factories.requests import make_request, make_resident

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
GRADED_ON = date(2026, 11, 19)


@dataclass
class SmallCity:
    district_1: int
    district_2: int
    company_a: ManagementCompany
    company_b: ManagementCompany
    a1: Building  # A, district 1, green
    a2: Building  # A, district 2, red
    b1: Building  # B, district 1, yellow
    nobody: Building  # district 2, managed by B only from next month: no manager today, not graded


def actor(role: Role, company_id: int | None = None, person_id: int | None = None) -> Actor:
    return Actor(
        user_id=1, username=role.value, role=role, company_id=company_id, person_id=person_id, token_id=0
    )


def grade(session: Session, building: Building, colour: Grade, *, debt: float | None, report: float | None):
    values = {DEBT_SHARE: debt, REPORT_ON_TIME: report}
    components = [Component(name, values.get(name)).as_json() for name in COMPONENTS]
    session.add(
        BuildingGrade(
            building_id=building.id,
            grade=colour,
            components=components,
            graded_on=GRADED_ON,
            graded_at=NOW - timedelta(hours=20),
            since=GRADED_ON,
        )
    )


def incident(session: Session, building: Building, *, started: datetime, ended=None, apartment_id=None, **kw):
    fields = {
        "utility": Utility.hot_water,
        "source": IncidentSource.report,
        "origin": f"test:{building.id}:{started.isoformat()}:{apartment_id}",
    } | kw
    session.add(
        ServiceIncident(
            building_id=building.id, apartment_id=apartment_id, started_at=started, ended_at=ended, **fields
        )
    )


def meeting(
    session: Session,
    building: Building,
    user_id: int,
    status: MeetingStatus,
    starts: datetime,
    ends: datetime,
):
    session.add(
        Meeting(
            building_id=building.id,
            initiator=InitiatorKind.company,
            created_by=user_id,
            status=status,
            voting_starts=starts,
            voting_ends=ends,
        )
    )


@pytest.fixture
def small_city(session: Session) -> SmallCity:
    d1 = make_district(session, name="Yunusobod").id
    d2 = make_district(session, name="Chilonzor").id
    a = make_company(session, name="A Servis")
    b = make_company(session, name="B Uy-Joy")
    a1 = make_building(session, a, district_id=d1, latitude=41.35, longitude=69.28, address="Amir Temur 1")
    a2 = make_building(session, a, district_id=d2, latitude=41.28, longitude=69.20, address="Bunyodkor 2")
    b1 = make_building(session, b, district_id=d1, latitude=41.36, longitude=69.30, address="Amir Temur 3")
    nobody = make_building(
        session,
        b,
        district_id=d2,
        latitude=41.27,
        longitude=69.21,
        address="Bunyodkor 4",
        managed_from=TODAY + timedelta(days=11),
    )
    grade(session, a1, Grade.green, debt=0.05, report=1.0)
    grade(session, a2, Grade.red, debt=0.3, report=0.0)
    grade(session, b1, Grade.yellow, debt=None, report=0.5)

    # Incidents: a1 two open (one a cold flat), one ended, one planned that has not started.
    flat = make_apartment(session, a1)
    incident(session, a1, started=NOW - timedelta(hours=3))
    incident(
        session,
        a1,
        started=NOW - timedelta(hours=5),
        apartment_id=flat.id,
        utility=Utility.heating,
        source=IncidentSource.sensor,
        deviation=Decimal("2.5"),
    )
    incident(session, a1, started=NOW - timedelta(days=2), ended=NOW - timedelta(days=1))
    incident(session, a1, started=NOW + timedelta(hours=2), source=IncidentSource.planned)
    # a2: three cold flats now.
    for _ in range(3):
        cold = make_apartment(session, a2)
        incident(
            session,
            a2,
            started=NOW - timedelta(hours=2),
            apartment_id=cold.id,
            utility=Utility.heating,
            source=IncidentSource.sensor,
            deviation=Decimal("1"),
        )

    # Requests: b1 two overdue, one not yet due; a1 one overdue.
    home = make_apartment(session, b1)
    resident = make_resident(session, home)
    for deadline in (NOW - timedelta(hours=1), NOW - timedelta(days=3), NOW + timedelta(hours=5)):
        request = make_request(session, resident, home, now=NOW - timedelta(days=4))
        request.deadline_at = deadline
        session.add(request)
    a1_home = make_apartment(session, a1)
    request = make_request(session, make_resident(session, a1_home), a1_home, now=NOW - timedelta(days=4))
    request.deadline_at = NOW - timedelta(minutes=1)
    session.add(request)

    # Meetings: b1 voting now; a2 a draft and one whose voting ended.
    clerk = make_user(session, Role.admin)
    meeting(session, b1, clerk.id, MeetingStatus.published, NOW - timedelta(days=1), NOW + timedelta(days=6))
    meeting(session, a2, clerk.id, MeetingStatus.draft, NOW - timedelta(days=1), NOW + timedelta(days=6))
    meeting(session, a2, clerk.id, MeetingStatus.published, NOW - timedelta(days=9), NOW - timedelta(hours=1))
    session.commit()
    return SmallCity(d1, d2, a, b, a1, a2, b1, nobody)


OFFICIAL = actor(Role.official)


def values(session, who: Actor, layer: Layer, **filters) -> dict[int, tuple]:
    found = map_points(session, who, TODAY, NOW, layer=layer, **filters)
    return {point[0]: point for point in found.points}


def test_a_point_is_one_tuple_in_the_documented_order(session, small_city: SmallCity):
    found = map_points(session, OFFICIAL, TODAY, NOW)
    point = {p[0]: p for p in found.points}[small_city.a1.id]
    assert dict(zip(FIELDS, point, strict=True)) == {
        "id": small_city.a1.id,
        "lat": 41.35,
        "lon": 69.28,
        "address": "Amir Temur 1",
        "district_id": small_city.district_1,
        "company_id": small_city.company_a.id,
        "grade": "green",
        "value": None,
    }
    assert [p[0] for p in found.points] == sorted(p[0] for p in found.points)
    assert (found.graded_from, found.graded_to) == (GRADED_ON, GRADED_ON)


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ("grade", {"a1": None, "a2": None, "b1": None, "nobody": None}),
        ("incidents", {"a1": 2, "a2": 3, "b1": 0, "nobody": 0}),
        ("overdue", {"a1": 1, "a2": 0, "b1": 2, "nobody": 0}),
        ("cold", {"a1": 1, "a2": 3, "b1": 0, "nobody": 0}),
        ("debt", {"a1": 0.05, "a2": 0.3, "b1": None, "nobody": None}),
        ("meeting", {"a1": 0, "a2": 0, "b1": 1, "nobody": 0}),
        ("report", {"a1": 1.0, "a2": 0.0, "b1": 0.5, "nobody": None}),
    ],
)
def test_each_layers_value_for_every_building(session, small_city: SmallCity, layer, expected):
    points = values(session, OFFICIAL, Layer(layer))
    got = {name: points[getattr(small_city, name).id][7] for name in expected}
    assert got == pytest.approx(expected) if layer == "debt" else got == expected
    grades = {name: points[getattr(small_city, name).id][6] for name in expected}
    assert grades == {"a1": "green", "a2": "red", "b1": "yellow", "nobody": None}


def test_the_layers_that_read_now_say_as_of_no_grade(session, small_city: SmallCity):
    assert map_points(session, OFFICIAL, TODAY, NOW, layer=Layer.incidents).graded_from is None
    assert map_points(session, OFFICIAL, TODAY, NOW, layer=Layer.debt).graded_to == GRADED_ON


def test_a_building_nobody_manages_today_has_no_company(session, small_city: SmallCity):
    assert values(session, OFFICIAL, Layer.grade)[small_city.nobody.id][5] is None


def test_filters_by_district_and_company(session, small_city: SmallCity):
    c = small_city
    assert set(values(session, OFFICIAL, Layer.grade, district_id=c.district_1)) == {c.a1.id, c.b1.id}
    assert set(values(session, OFFICIAL, Layer.grade, company_id=c.company_a.id)) == {c.a1.id, c.a2.id}
    both = values(session, OFFICIAL, Layer.overdue, district_id=c.district_2, company_id=c.company_a.id)
    assert set(both) == {c.a2.id}
    assert values(session, OFFICIAL, Layer.grade, district_id=2**31 - 1) == {}
    assert values(session, OFFICIAL, Layer.grade, company_id=2**31 - 1) == {}


@pytest.mark.parametrize("layer", list(Layer))
@pytest.mark.parametrize("role", [Role.manager, Role.dispatcher, Role.technician])
def test_a_companys_staff_get_only_the_buildings_it_manages_today(
    session, small_city: SmallCity, layer, role
):
    c = small_city
    staff_a = actor(role, company_id=c.company_a.id)
    staff_b = actor(role, company_id=c.company_b.id)
    assert set(values(session, staff_a, layer)) == {c.a1.id, c.a2.id}
    # B takes over "nobody" only next month: today it is nobody's, so not B's.
    assert set(values(session, staff_b, layer)) == {c.b1.id}
    # Asking for the other company's buildings gives nothing, not them.
    assert values(session, staff_b, layer, company_id=c.company_a.id) == {}
    assert values(session, staff_a, layer, district_id=c.district_1, company_id=c.company_b.id) == {}
    # The facts layers count the same for staff as for the city.
    city = values(session, OFFICIAL, layer)
    assert values(session, staff_a, layer)[c.a1.id] == city[c.a1.id]


def test_staff_see_a_building_from_the_day_their_company_takes_it_over(session, small_city: SmallCity):
    c = small_city
    staff_b = actor(Role.manager, company_id=c.company_b.id)
    later = TODAY + timedelta(days=11)
    found = map_points(session, staff_b, later, NOW + timedelta(days=11))
    assert {p[0] for p in found.points} == {c.b1.id, c.nobody.id}


def test_residents_get_no_point_not_even_their_own_building(session, small_city: SmallCity):
    person = make_owner(session, make_apartment(session, small_city.b1))
    session.commit()
    for layer in Layer:
        assert (
            map_points(session, actor(Role.resident, person_id=person.id), TODAY, NOW, layer=layer).points
            == []
        )


def test_admins_and_officials_see_the_whole_city(session, small_city: SmallCity):
    for role in (Role.admin, Role.official):
        assert len(map_points(session, actor(role), TODAY, NOW).points) == 4


def test_an_empty_city_has_no_points_and_no_grade_day(session):
    found = map_points(session, OFFICIAL, TODAY, NOW, layer=Layer.debt)
    assert (found.points, found.graded_from) == ([], None)


def test_a_reordered_components_list_reads_as_no_data_never_as_another_component(session, small_city):
    row = session.get(BuildingGrade, small_city.a1.id)
    row.components = list(reversed(row.components))
    session.add(row)
    session.commit()
    assert values(session, OFFICIAL, Layer.debt)[small_city.a1.id][7] is None
    assert values(session, OFFICIAL, Layer.report)[small_city.a1.id][7] is None


def test_running_twice_gives_the_same_points(session, small_city: SmallCity):
    for layer in Layer:
        first = map_points(session, OFFICIAL, TODAY, NOW, layer=layer)
        assert map_points(session, OFFICIAL, TODAY, NOW, layer=layer) == first


# The colours: the settings' thresholds where the grade has them.


@pytest.mark.parametrize(
    ("layer", "value", "level"),
    [
        ("incidents", 0, "green"),
        ("incidents", 1, "yellow"),
        ("incidents", 3, "red"),
        ("overdue", 0, "green"),
        ("overdue", 1, "yellow"),
        ("overdue", 3, "red"),
        ("cold", 4, "yellow"),
        ("cold", 5, "red"),
        ("debt", 0.0999, "green"),
        ("debt", 0.1, "yellow"),
        ("debt", 0.25, "red"),
        ("debt", None, "none"),
        ("report", 1.0, "green"),
        ("report", 0.5, "yellow"),
        ("report", 0.0, "red"),
        ("meeting", 0, "off"),
        ("meeting", 1, "on"),
    ],
)
def test_a_layers_levels_follow_its_thresholds(layer, value, level):
    assert scale_of(Layer(layer), make_settings("sqlite://")).level(None, value) == level


def test_the_grade_layer_is_coloured_by_the_grade():
    scale = scale_of(Layer.grade, make_settings("sqlite://"))
    assert [scale.level(g, None) for g in ("green", "yellow", "red", None)] == [
        "green",
        "yellow",
        "red",
        "none",
    ]


def test_the_debt_thresholds_are_the_settings():
    settings = make_settings("sqlite://", twin={"debt_share_yellow": 0.2, "debt_share_red": 0.5})
    assert scale_of(Layer.debt, settings) == Scale("threshold", 0.2, 0.5, True)


def test_a_regrade_is_read_at_once_even_on_the_same_moment(session, small_city: SmallCity):
    """PostgreSQL keeps the stored grades' components between requests: a rewrite must show."""
    assert values(session, OFFICIAL, Layer.debt)[small_city.a1.id][7] == pytest.approx(0.05)
    row = session.get(BuildingGrade, small_city.a1.id)
    row.components = [c | {"value": 0.5} if c["name"] == DEBT_SHARE else c for c in row.components]
    session.add(row)  # graded_at unchanged, like a second run of a frozen-clock test
    session.commit()
    assert values(session, OFFICIAL, Layer.debt)[small_city.a1.id][7] == pytest.approx(0.5)
    session.delete(row)
    session.commit()
    assert values(session, OFFICIAL, Layer.debt)[small_city.a1.id][7] is None


@pytest.mark.parametrize("layer", list(Layer))
def test_the_json_the_database_writes_is_the_same_points(session, small_city: SmallCity, layer):
    staff_a = actor(Role.manager, company_id=small_city.company_a.id)
    for who, filters in ((OFFICIAL, {}), (OFFICIAL, {"district_id": small_city.district_2}), (staff_a, {})):
        body, count = points_json(
            session, map_statement(session, who, TODAY, NOW, MapFilters(layer, **filters))
        )
        expected = map_points(session, who, TODAY, NOW, layer=layer, **filters).points
        assert json.loads(body) == [list(p) for p in expected]
        assert count == len(expected)
    nobodys = map_statement(session, OFFICIAL, TODAY, NOW, MapFilters(layer, company_id=2**31 - 1))
    assert points_json(session, nobodys) == ("[]", 0)
