"""JSON route of the city map: every visible building as a compact point, coloured by a layer.

Officials and admins get the city, a company's staff their company's buildings (the map's
scoping: `twin/map.py`); residents 403, like every console and city route (the map is a
tool of those who serve buildings; a resident's building view is `/buildings/{id}`).
"""

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from housing.auth import WatcherActor
from housing.dashboard import CompanyId, DistrictId, query_string
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.schemas import API_PROBLEMS
from housing.twin.grading import Grade
from housing.twin.map import (
    FIELDS,
    FROM_GRADE,
    Layer,
    MapFilters,
    company_names,
    district_names,
    graded_range,
    map_statement,
    points_json,
    scale_of,
)
from sensors.meters.conditions import in_season, parse_season

router = APIRouter(tags=["twin: city map"], responses=API_PROBLEMS)

LayerChoice = Annotated[Layer, Query(description="What colours the points; `grade` by default")]


def map_query(asked: MapFilters) -> str:
    """The filters as a URL query, for the links between the map, its list and its data."""
    return query_string(layer=asked.layer.value, district_id=asked.district_id, company_id=asked.company_id)


def _asked(
    district_id: DistrictId = None, company_id: CompanyId = None, layer: LayerChoice = Layer.grade
) -> MapFilters:
    """The map's filters as the JSON route and both pages take them (a GET form: empty is all)."""
    return MapFilters(layer, district_id, company_id)


Asked = Annotated[MapFilters, Depends(_asked)]

# One point: id, latitude, longitude, address, district id, company id, grade, the layer's value.
Point = tuple[int, float, float, str, int, int | None, Grade | None, float | None]


class ScaleRead(BaseModel):
    kind: str = Field(description="grade: colour by the grade; threshold: by `yellow`/`red`; flag: on from 1")
    yellow: float | None = None
    red: float | None = None
    more_is_worse: bool = True


class MapBuildings(BaseModel):
    """The map's data in arrays, not objects: 44,000 points stay a few megabytes and are
    written without building an object per point. Names travel once, in `districts` and
    `companies`; each point carries their ids."""

    layer: Layer
    fields: list[str] = Field(description="The order of each point's members")
    points: list[Point] = Field(
        description="[id, lat, lon, address, district_id, company_id (null: no manager today),"
        " grade (null: not graded yet), value (null: no data; the grade layer: always null)]"
    )
    count: int
    scale: ScaleRead
    as_of: datetime = Field(description="When the live layers were read (now)")
    graded_from: date | None = Field(
        None, description="Grade, debt and report layers: the oldest stored grade shown is as of this day"
    )
    graded_to: date | None = Field(None, description="... and the newest")
    heating_season: bool = Field(description="Whether today is in the heating season (the cold layer)")
    districts: list[tuple[int, str]] = Field(description="[id, name] of every district")
    companies: list[tuple[int, str]] = Field(description="[id, name] of every company the caller may see")


def in_heating_season(settings: Any, today: date) -> bool:
    return in_season(today, parse_season(settings.meters.heating_season))


@router.get("/map/buildings", response_model=MapBuildings)
def map_buildings(
    session: SessionDep,
    actor: WatcherActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    asked: Asked,
) -> Response:
    """Every building the caller may see as a point with its grade and the layer's value:
    officials and admins the city, a company's staff the buildings it manages today.
    `district_id` and `company_id` narrow it (empty: all). Layers: `grade` (stored daily),
    `incidents` (open now), `overdue` (open requests past deadline now), `cold` (cold flats
    now), `debt` (share of apartments with a debt past due, as of the grade), `meeting`
    (owners voting now), `report` (the last due quarterly report: 1 on time, 0.5 late, 0
    missing, as of the grade). The points are written as JSON by the database, not validated
    point by point."""
    layer = asked.layer
    points, count = points_json(session, map_statement(session, actor, today, now, asked))
    graded = (None, None)
    if layer in FROM_GRADE and count:
        graded = graded_range(session, actor, today, asked.district_id, asked.company_id)
    head = {
        "layer": layer.value,
        "fields": list(FIELDS),
        "count": count,
        "scale": scale_of(layer, settings).as_json(),
        "as_of": now.isoformat(),
        "graded_from": graded[0].isoformat() if graded[0] else None,
        "graded_to": graded[1].isoformat() if graded[1] else None,
        "heating_season": in_heating_season(settings, today),
        "districts": district_names(session),
        "companies": company_names(session, actor, today),
    }
    # The points as the database wrote them, spliced in: no Python object per point.
    body = json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1] + ',"points":' + points + "}"
    return Response(body, media_type="application/json")
