"""JSON routes of the twin for officials: buildings by grade and district, and cold now.

Officials and admins only (`CityActor`); everyone else 403. The same readers and filters as
the pages (`city_pages.py`); an unknown company is 404.
"""

from fastapi import APIRouter

from housing.auth import CityActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.routing import Paging
from housing.schemas import API_PROBLEMS
from housing.twin import city
from housing.twin.city_pages import ChosenCompany, grades_view
from housing.twin.city_schemas import (
    CityGradesRead,
    ColdBuildingRead,
    ColdNowRead,
    GradeChangeRead,
    GradeChanges,
    GradeCountsRead,
)

router = APIRouter(tags=["city: digital twin"], responses=API_PROBLEMS)


@router.get("/city/grades", response_model=CityGradesRead)
def city_grades(
    session: SessionDep, actor: CityActor, today: Today, paging: Paging, company_id: ChosenCompany = None
):
    """Buildings counted by grade in each district and the whole city (of one company's
    buildings when asked), and a page of the changes of grade in the last 7 days, newest first."""
    view = grades_view(session, today, company_id, limit=paging.limit, offset=paging.offset)
    return CityGradesRead(
        company_id=company_id,
        graded_on=view.counts.graded_on,
        districts=[GradeCountsRead.of(c) for c in view.counts.districts],
        city=GradeCountsRead.of(view.counts.city),
        changes=GradeChanges(
            items=[GradeChangeRead.of(c) for c in view.changes],
            total=view.changed,
            limit=paging.limit,
            offset=paging.offset,
        ),
    )


@router.get("/city/cold-now", response_model=ColdNowRead)
def cold_now(
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    now: Now,
    today: Today,
    company_id: ChosenCompany = None,
):
    """In the heating season, the buildings whose flats are cold now (open heating incidents
    of indoor sensors), the most cold flats first, then the longest cold."""
    in_season = city.heating_season(settings, today)
    found = city.cold_now(session, now, today, company_id=company_id) if in_season else []
    return ColdNowRead(
        heating_season=in_season,
        season=settings.meters.heating_season,
        norm_c=settings.meters.indoor_min_c,
        buildings=[ColdBuildingRead.of(b) for b in found],
    )
