"""JSON routes of the digital twin: a building's live state for apps."""

from fastapi import APIRouter, Request

from housing.db import SessionDep
from housing.deps import Now, SettingsDep
from housing.schemas import API_PROBLEMS
from housing.twin.access import SeenBuilding
from housing.twin.building import building_state
from housing.twin.schemas import BuildingStateRead

router = APIRouter(tags=["digital twin"], responses=API_PROBLEMS)


@router.get("/buildings/{building_id}/state", response_model=BuildingStateRead)
def read_building_state(
    request: Request, session: SessionDep, settings: SettingsDep, seen: SeenBuilding, now: Now
):
    """The building view's state: the apartment grid with its marks, the common state, the grade.

    Staff of the managing company, officials and admins see everything; a resident of the
    building sees the common state, the grade and technical marks only (no debts, no
    neighbours' requests). Any other building is 404."""
    return building_state(session, seen.building, seen.viewer, settings, now, request.app.state.twin_hours)
