"""The city map's points: every building an actor may see, with its grade and one layer's value.

Officials and admins see the city; a company's staff the buildings their company manages
today (`registry.queries.visible_buildings`, the one scoping rule); residents have no map
(the routes answer 403, and this module returns no point for them). A point is one tuple,
in the order of `FIELDS`:

    (building id, latitude, longitude, address, district id, company id or None,
     grade or None (not graded yet), the layer's value or None (no data))

Made for 44,000 buildings: one statement selects every point with its layer's value (a
grouped subquery joined to the buildings), or, for the two layers that `twin.facts` defines
(overdue requests, cold flats), the points and then that fact for the same buildings; the
rows go out as they come, one tuple each. Districts and companies travel once, as name
tables, not on every point. The layers and where their values come from:
docs/digital-twin-map.md.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlmodel import Session, col

from housing.actors import Actor
from housing.incidents.models import ServiceIncident
from housing.meetings.models import Meeting, MeetingStatus
from housing.registry.models import Building, District, ManagementCompany
from housing.registry.queries import current_manager_ids, visible_buildings, visible_companies
from housing.twin import facts
from housing.twin.grading import COMPONENTS, DEBT_SHARE, OVERDUE_REQUESTS, REPORT_ON_TIME, rules_from
from housing.twin.models import BuildingGrade


class Layer(StrEnum):
    grade = "grade"  # the stored grade (the value is None: the grade column is the value)
    incidents = "incidents"  # service incidents open now (started, not ended)
    overdue = "overdue"  # open requests past their deadline now (facts.overdue_requests)
    cold = "cold"  # flats cold now (facts.cold_flats: open heating incidents of indoor sensors)
    debt = "debt"  # share of apartments with a debt past due, from the stored grade
    meeting = "meeting"  # owners' meetings voting now
    report = "report"  # the last due quarter's money report, from the stored grade: 1, 0.5 late, 0 missing


FIELDS = ("id", "lat", "lon", "address", "district_id", "company_id", "grade", "value")
# The layers read from the stored grade: their values are as of its `graded_on`, not now.
FROM_GRADE = frozenset({Layer.grade, Layer.debt, Layer.report})
GRADE_COMPONENT = {Layer.debt: DEBT_SHARE, Layer.report: REPORT_ON_TIME}


@dataclass(frozen=True, slots=True)
class Scale:
    """How a layer's value is coloured: a grade, a count or share against thresholds, or a flag.

    A value at or beyond `yellow` is yellow, at or beyond `red` red ("beyond" is below when
    `more_is_worse` is false); a flag is "on" from 1; None is "none" (no data). static/twin-map.js
    applies the same rule to the JSON's points; `level` is it for the list page.
    """

    kind: str  # "grade" | "threshold" | "flag"
    yellow: float | None = None
    red: float | None = None
    more_is_worse: bool = True

    def level(self, grade: str | None, value: float | None) -> str:
        if self.kind == "grade":
            return grade or "none"
        if value is None:
            return "none"
        if self.kind == "flag":
            return "on" if value >= 1 else "off"

        def reached(limit: float) -> bool:
            return value >= limit if self.more_is_worse else value <= limit

        if reached(self.red):
            return "red"
        if reached(self.yellow):
            return "yellow"
        return "green"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "yellow": self.yellow,
            "red": self.red,
            "more_is_worse": self.more_is_worse,
        }


# Counts with no setting of their own: one open incident or cold flat is worth a look, these many a problem.
INCIDENTS_RED = 3
COLD_FLATS_RED = 5


def scale_of(layer: Layer, settings: Any) -> Scale:
    """The colouring of a layer; the grade's own thresholds (settings.twin) where it has them."""
    rules = rules_from(settings)
    if layer is Layer.grade:
        return Scale("grade")
    if layer is Layer.meeting:
        return Scale("flag")
    if layer is Layer.incidents:
        return Scale("threshold", 1, INCIDENTS_RED)
    if layer is Layer.cold:
        return Scale("threshold", 1, COLD_FLATS_RED)
    name = {Layer.overdue: OVERDUE_REQUESTS, Layer.debt: DEBT_SHARE, Layer.report: REPORT_ON_TIME}[layer]
    rule = rules[name]
    return Scale("threshold", rule.yellow, rule.red, rule.more_is_worse)


@dataclass(frozen=True, slots=True)
class MapPoints:
    layer: Layer
    points: list[tuple]  # in FIELDS order
    graded_from: date | None  # the oldest and newest `graded_on` of the stored grades shown
    graded_to: date | None


def _component(name: str) -> ColumnElement:
    """A stored grade's component value, read in SQL from its JSON (COMPONENTS order, the name
    checked so that a list in another order reads as no data rather than another component)."""
    at = COMPONENTS.index(name)
    components = BuildingGrade.components
    return case(
        (components[(at, "name")].as_string() == name, components[(at, "value")].as_float()), else_=null()
    )


def _counts(query: Select) -> Select:
    """(building_id, n) of a query whose first column is the building id, grouped."""
    return query.group_by(query.selected_columns[0]).subquery()


def _layer_value(layer: Layer, now: datetime, stored: "StoredValues | None") -> tuple[ColumnElement, Any]:
    """The value column of a layer, and the grouped subquery or table to left-join for it (or None).
    `stored`: the stored grade's components as read once per grading (PostgreSQL), joined as a
    table; None: read out of each grade's JSON in this statement."""
    if layer is Layer.incidents:
        counts = _counts(
            select(ServiceIncident.building_id, func.count().label("n")).where(
                col(ServiceIncident.ended_at).is_(None), ServiceIncident.started_at <= now
            )
        )
        return func.coalesce(counts.c.n, 0), counts
    if layer is Layer.meeting:
        counts = _counts(
            select(Meeting.building_id, func.count().label("n")).where(
                Meeting.status == MeetingStatus.published,
                Meeting.voting_starts <= now,
                Meeting.voting_ends > now,
            )
        )
        return func.coalesce(counts.c.n, 0), counts
    if layer is Layer.overdue:
        counts = facts.overdue_requests_query(now).subquery()
        return func.coalesce(counts.c.n, 0), counts
    if layer is Layer.cold:
        flats = facts.cold_flats_query().subquery()
        counts = _counts(select(flats.c.building_id, func.count().label("n")))
        return func.coalesce(counts.c.n, 0), counts
    if layer in GRADE_COMPONENT:
        if stored is None:
            return _component(GRADE_COMPONENT[layer]), None
        table = stored.table()
        return table.c.value, table
    return null(), None  # the grade layer: the grade column is its value


def _may_see_map(actor: Actor) -> bool:
    return actor.sees_whole_city or actor.is_company_staff


def _scoped(
    actor: Actor,
    today: date,
    district_id: int | None,
    company_id: int | None,
    columns: Callable[[Any], list[Any]],
) -> Select:
    """The actor's buildings (queries.visible_buildings) with their current manager and stored
    grade joined, filtered; `columns(manager)` says what to select (`manager.c.company_id`)."""
    manager = current_manager_ids(today).subquery()
    query = (
        visible_buildings(actor, today)
        .with_only_columns(*columns(manager))
        .select_from(Building)
        .outerjoin(manager, manager.c.building_id == Building.id)
        .outerjoin(BuildingGrade, BuildingGrade.building_id == Building.id)
    )
    if not _may_see_map(actor):
        query = query.where(literal(False))
    if district_id is not None:
        query = query.where(Building.district_id == district_id)
    if company_id is not None:
        query = query.where(manager.c.company_id == company_id)
    return query


def points_query(
    actor: Actor, today: date, now: datetime, asked: "MapFilters", *, stored: "StoredValues | None" = None
) -> Select:
    """The statement selecting the points (FIELDS) with the layer's value, unordered."""
    value, joined = _layer_value(asked.layer, now, stored)

    def columns(manager: Any) -> list[Any]:
        return [
            Building.id,
            Building.latitude,
            Building.longitude,
            Building.address,
            Building.district_id,
            manager.c.company_id,
            BuildingGrade.grade,
            value.label("value"),
        ]

    query = _scoped(actor, today, asked.district_id, asked.company_id, columns)
    if joined is not None:
        query = query.outerjoin(joined, joined.c.building_id == Building.id)
    return query


@dataclass(frozen=True, slots=True)
class StoredValues:
    """One component of every stored grade, as two PostgreSQL array literals that the map's
    statement unnests into a table (written once per grading: binding 44,000 numbers as one
    text each is several times faster than as array parameters)."""

    building_ids: str  # {1,2,...}
    values: str  # {0.05,NULL,...}

    @classmethod
    def of(cls, rows: list[tuple[int, float | None]]) -> "StoredValues":
        ids = ",".join(str(building_id) for building_id, _ in rows)
        values = ",".join("NULL" if value is None else repr(float(value)) for _, value in rows)
        return cls("{" + ids + "}", "{" + values + "}")

    def table(self) -> Any:
        ids = cast(bindparam("stored_ids", self.building_ids, type_=Text), ARRAY(Integer))
        values = cast(bindparam("stored_values", self.values, type_=Text), ARRAY(Float))
        return func.unnest(ids, values).table_valued("building_id", "value").render_derived(name="stored")


class GradeValues:
    """The stored grades' debt and report components of the whole city, read once per grading.

    Reading a component out of 44,000 JSON lists costs PostgreSQL several times the rest of the
    map's statement, and the values change only when the grading job writes (once a day). So on
    PostgreSQL each web process keeps them per database and reads them again when the grades
    change: their number, the newest `graded_at` and the newest row version (`xmin`, new on any
    insert or update), one aggregate that does not read the JSON. SQLite (the demo, tests) reads
    the component in the map's own statement instead.
    """

    def __init__(self) -> None:
        self._held: WeakKeyDictionary[Any, dict[str, tuple[tuple, StoredValues]]] = WeakKeyDictionary()

    @staticmethod
    def applies(session: Session) -> bool:
        return session.get_bind().dialect.name == "postgresql"

    def of(self, session: Session, layer: Layer) -> StoredValues | None:
        """The layer's component of every stored grade; None for a layer not read from one, or on SQLite."""
        if layer not in GRADE_COMPONENT or not self.applies(session):
            return None
        name = GRADE_COMPONENT[layer]
        written = func.max(cast(cast(literal_column("building_grade.xmin"), Text), BigInteger))
        version = tuple(
            session.execute(select(func.count(), func.max(BuildingGrade.graded_at), written)).one()
        )
        held = self._held.setdefault(session.get_bind(), {})
        found = held.get(name)
        if found is not None and found[0] == version:
            return found[1]
        stored = StoredValues.of(session.execute(select(BuildingGrade.building_id, _component(name))).all())
        held[name] = (version, stored)
        return stored


GRADE_VALUES = GradeValues()


@dataclass(frozen=True, slots=True)
class MapFilters:
    """What the map is asked for: the layer, and a district and a company (None: all)."""

    layer: Layer = Layer.grade
    district_id: int | None = None
    company_id: int | None = None


def map_statement(session: Session, actor: Actor, today: date, now: datetime, asked: MapFilters) -> Select:
    """The statement of the points (FIELDS) the actor may see under these filters, unordered:
    `map_points` reads it as tuples, `points_json` has the database write it as JSON."""
    stored = GRADE_VALUES.of(session, asked.layer)
    return points_query(actor, today, now, asked, stored=stored)


def map_points(
    session: Session,
    actor: Actor,
    today: date,
    now: datetime,
    layer: Layer = Layer.grade,
    district_id: int | None = None,
    company_id: int | None = None,
) -> MapPoints:
    """Every point the actor may see under these filters, in building id order, as tuples."""
    layer = Layer(layer)
    query = map_statement(session, actor, today, now, MapFilters(layer, district_id, company_id))
    rows = list(map(tuple, session.execute(query.order_by(Building.id))))
    if layer not in FROM_GRADE or not rows:
        return MapPoints(layer, rows, None, None)
    graded_from, graded_to = graded_range(session, actor, today, district_id, company_id)
    return MapPoints(layer, rows, graded_from, graded_to)


def points_json(session: Session, statement: Select) -> tuple[str, int]:
    """The points of `map_statement` as a JSON array written by the database itself, in building
    id order, and their number: what the route sends, without a Python object per point."""
    points = statement.subquery()
    if session.get_bind().dialect.name == "postgresql":
        array = func.json_agg(aggregate_order_by(func.json_build_array(*points.c), points.c.id))
    else:  # SQLite: its JSON functions keep the subquery's order
        points = select(*points.c).order_by(points.c.id).subquery()
        array = func.json_group_array(func.json_array(*points.c))
    body, count = session.execute(select(cast(array, Text), func.count()).select_from(points)).one()
    return body or "[]", count


def graded_range(
    session: Session, actor: Actor, today: date, district_id: int | None = None, company_id: int | None = None
) -> tuple[date | None, date | None]:
    """The oldest and newest `graded_on` among the stored grades of these buildings (None: none)."""
    span = [func.min(BuildingGrade.graded_on), func.max(BuildingGrade.graded_on)]
    if actor.sees_whole_city and district_id is None and company_id is None:
        first, last = session.execute(select(*span)).one()  # the city: no join to read
        return first, last
    query = _scoped(
        actor,
        today,
        district_id,
        company_id,
        lambda _: span,
    )
    first, last = session.execute(query).one()
    return first, last


def district_names(session: Session) -> list[tuple[int, str]]:
    """Every district (a dozen), by name."""
    return [tuple(row) for row in session.execute(select(District.id, District.name).order_by(District.name))]


def company_names(session: Session, actor: Actor, today: date) -> list[tuple[int, str]]:
    """The companies the actor may see (the city's 900, or their own), by name."""
    query = visible_companies(actor, today).with_only_columns(ManagementCompany.id, ManagementCompany.name)
    return [
        tuple(row) for row in session.execute(query.order_by(ManagementCompany.name, ManagementCompany.id))
    ]
