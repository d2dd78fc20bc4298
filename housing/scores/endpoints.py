"""JSON and CSV routes of quality scores.

Who reads them: every logged-in user, whatever the role. The scores are public
information (docs/quality-score.md, "Who sees what"): residents compare the companies
that serve them, a company checks its own number against the city means and the others',
officials read every input. Only the nightly job and `housing scores` write them.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from housing import clock
from housing.auth import get_actor
from housing.db import SessionDep, get_or_404
from housing.deps import Today
from housing.registry.models import District, ManagementCompany
from housing.routing import Paging
from housing.schemas import API_PROBLEMS
from housing.scores import service
from housing.scores.export import ranking_csv
from housing.scores.schemas import Ranking, ScoreRead, Trend
from housing.validation import Id, Month

# Every signed-in user reads the scores: the routes only need to know someone is asking.
router = APIRouter(tags=["quality scores"], responses=API_PROBLEMS, dependencies=[Depends(get_actor)])

Period = Annotated[Month, Query()]
DistrictFilter = Annotated[
    Id | None, Query(description="Rank only the companies of this district (the company's own district)")
]


@router.get("/scores", response_model=Ranking)
def read_ranking(
    session: SessionDep,
    period: Period,
    paging: Paging,
    district_id: DistrictFilter = None,
):
    """The month's ranking, best first, each company with its total and every component's inputs."""
    if district_id is not None:
        get_or_404(session, District, district_id, "district")
    scores, count = service.ranking(
        session,
        clock.parse_period(period),
        district_id=district_id,
        limit=paging.limit,
        offset=paging.offset,
    )
    return Ranking(
        period=period,
        district_id=district_id,
        items=[ScoreRead.of(s) for s in scores],
        total=count,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get("/scores.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_ranking(session: SessionDep, period: Period, district_id: DistrictFilter = None):
    """The whole ranking as CSV (UTF-8), for spreadsheets: one line per company."""
    if district_id is not None:
        get_or_404(session, District, district_id, "district")
    scores, _ = service.ranking(session, clock.parse_period(period), district_id=district_id)
    name = f"quality-scores-{period}" + (f"-district-{district_id}" if district_id else "") + ".csv"
    return Response(
        ranking_csv(scores),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/companies/{company_id}/scores", response_model=Trend)
def read_trend(
    company_id: Id,
    session: SessionDep,
    today: Today,
    months: Annotated[int, Query(ge=1, le=36, description="How many months back")] = 12,
    until: Annotated[Month | None, Query(description="Last month, YYYY-MM; this month by default")] = None,
):
    """One company's score month by month, with its rank in the city each month."""
    company = get_or_404(session, ManagementCompany, company_id, "company")
    last = clock.parse_period(until) if until else today
    scores = service.company_trend(session, company_id, clock.last_months(last, months))
    return Trend(company_id=company.id, company_name=company.name, months=[ScoreRead.of(s) for s in scores])
