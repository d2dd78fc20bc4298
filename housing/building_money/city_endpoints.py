"""JSON routes of the city's building money: cost per m2 compared, and the reports late.

Officials and admins only (`CityActor`); everyone else 403. The same filters and figures as
the pages (`city_pages.py`), the same reading modules (`costs.py`, `deadlines.py`).
"""

from typing import Annotated

from fastapi import APIRouter, Query

from housing.auth import CityActor
from housing.building_money.city_pages import (
    LATE_STATES,
    CostFilters,
    LateFilters,
    compared_costs,
    reports_due,
)
from housing.building_money.city_schemas import (
    BuildingCostsRead,
    CostCompanies,
    CostGroupRead,
    LateReportRead,
    LateReports,
)
from housing.building_money.comparison import THRESHOLD
from housing.building_money.deadlines import ReportDeadlines, ReportState
from housing.building_money.export import uzs_per_m2
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.routing import Paging
from housing.schemas import API_PROBLEMS

router = APIRouter(tags=["city: building money"], responses=API_PROBLEMS)


@router.get("/city/building-costs", response_model=BuildingCostsRead)
def building_costs(
    session: SessionDep,
    actor: CityActor,
    today: Today,
    paging: Paging,
    asked: CostFilters,
):
    """Cost per m2 of one quarter (the newest with published reports by default), in one
    category or all together, city-wide or in one district: each company's (paged) and each
    district's median, n and outlier buildings (modified z-score > 3.5, docs/building-costs.md)."""
    found = compared_costs(session, today, asked)
    result = found.result
    page = result.companies[paging.offset : paging.offset + paging.limit]
    return BuildingCostsRead(
        quarter=str(found.quarter),
        category=found.category.value if found.category else None,
        district_id=found.district_id,
        buildings=result.n,
        excluded_zero_area=result.excluded,
        median_uzs_per_m2=uzs_per_m2(result.spread.median) if result.spread else None,
        mad_uzs_per_m2=uzs_per_m2(result.spread.mad) if result.spread else None,
        outlier_threshold=THRESHOLD,
        companies=CostCompanies(
            items=[CostGroupRead.of(g, found.company_names.get(g.key, "")) for g in page],
            total=len(result.companies),
            limit=paging.limit,
            offset=paging.offset,
        ),
        districts=[CostGroupRead.of(g, found.district_names.get(g.key, "")) for g in result.districts],
    )


@router.get("/city/late-reports", response_model=LateReports)
def late_reports(
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    today: Today,
    paging: Paging,
    asked: LateFilters,
    state: Annotated[
        ReportState | None,
        Query(
            description="One state only; by default late (not published after its due day) and published late"
        ),
    ] = None,
):
    """Buildings' quarterly reports that are late (or in the state asked for), oldest due first."""
    rows, total = reports_due(
        session,
        ReportDeadlines.of(settings.money, settings.timezone),
        today,
        asked,
        states=frozenset({state}) if state else LATE_STATES,
        limit=paging.limit,
        offset=paging.offset,
    )
    return LateReports(
        items=[LateReportRead.of(r) for r in rows], total=total, limit=paging.limit, offset=paging.offset
    )
