"""HTML routes of the city dashboard's twin: buildings by grade, the week's changes, cold now.

For officials and admins only (`CityActor`; anyone else 403, as on the other city pages).
`/city/grades` counts the buildings of each district by their stored grade (the nightly
`grade-buildings` job), filterable by the managing company; each count links to the map's
list with the same filters, and the week's changes of grade link to the building view.
Both lists have CSV twins. `/city/cold` lists the buildings whose flats are cold now, in the
heating season (a sentence says so out of it).
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from housing.auth import CityActor
from housing.dashboard import (
    PAGE_SIZE,
    CompanyId,
    PageNumber,
    Pager,
    companies,
    csv_response,
    export_part,
    next_export,
    query_string,
)
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import NotFound
from housing.registry.models import ManagementCompany
from housing.twin import city
from housing.twin.export import changes_csv, counts_csv
from housing.twin.grading import Grade
from housing.web import render

router = APIRouter(include_in_schema=False)


def _company(session: SessionDep, company_id: CompanyId = None) -> int | None:
    """The company filter; one that does not exist is 404, not an empty page."""
    if company_id is not None and session.get(ManagementCompany, company_id) is None:
        raise NotFound(f"company {company_id} not found")
    return company_id


ChosenCompany = Annotated[int | None, Depends(_company)]


@dataclass(frozen=True)
class GradesView:
    counts: city.CityGrades
    changes: list[city.ChangeRow]
    changed: int  # all the week's changes (`changes` may be a page of them)


def grades_view(session: Session, today, company_id: int | None, **page: int) -> GradesView:
    changes, changed = city.grade_changes(session, today, company_id=company_id, **page)
    return GradesView(city.grade_counts(session, today, company_id=company_id), changes, changed)


@router.get("/city/grades", response_class=HTMLResponse)
def grades_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    today: Today,
    company_id: ChosenCompany = None,
    page: PageNumber = 1,
) -> Response:
    view = grades_view(session, today, company_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "twin/grades.html",
        actor=actor,
        counts=view.counts,
        changes=view.changes,
        pager=Pager(number=page, size=PAGE_SIZE, total=view.changed),
        grades=list(Grade),
        week_days=city.WEEK,
        companies=companies(session),
        company_id=company_id,
        filters=query_string(company_id=company_id),
    )


def _file_name(stem: str, company_id: int | None, today: date) -> str:
    """A CSV's name: what, for which company if filtered, as of which day."""
    return stem + (f"-company-{company_id}" if company_id else "") + f"-{today.isoformat()}.csv"


@router.get("/city/grades.csv")
def grades_export(
    session: SessionDep, actor: CityActor, today: Today, company_id: ChosenCompany = None
) -> Response:
    """Each district's counts by grade and the city's total, as the page shows them."""
    counts = city.grade_counts(session, today, company_id=company_id)
    return csv_response(counts_csv(counts), _file_name("building-grades", company_id, today))


@router.get("/city/grade-changes.csv")
def changes_export(
    session: SessionDep,
    actor: CityActor,
    today: Today,
    company_id: ChosenCompany = None,
    page: PageNumber = 1,
) -> Response:
    """The last week's changes of grade, newest first (all the page's pages), EXPORT_ROWS a part."""
    changes, count = city.grade_changes(session, today, company_id=company_id, **export_part(page))
    following = next_export("/city/grade-changes.csv", query_string(company_id=company_id), page, count)
    return csv_response(changes_csv(changes), _file_name("grade-changes", company_id, today), following)


@router.get("/city/cold", response_class=HTMLResponse)
def cold_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    now: Now,
    today: Today,
    company_id: ChosenCompany = None,
) -> Response:
    in_season = city.heating_season(settings, today)
    return render(
        request,
        "twin/cold.html",
        actor=actor,
        in_season=in_season,
        season=settings.meters.heating_season,
        norm=settings.meters.indoor_min_c,
        buildings=city.cold_now(session, now, today, company_id=company_id) if in_season else [],
        companies=companies(session),
        company_id=company_id,
    )
