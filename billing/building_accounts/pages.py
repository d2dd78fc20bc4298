"""HTML routes of a building's money: the resident's account page and a quarter's report (and
its PDF), and the company console's table of reports with a draft preview and Publish.

Who reads is `reading` (404 outside); a draft shows to the company's staff and admins only;
publishing posts, then redirects (303) to the published report.
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from billing.building_accounts import reading
from billing.building_accounts.report_pdf import pdf_response
from billing.building_accounts.reports import publish_report
from billing.building_accounts.words import category_label
from housing.actors import Actor
from housing.auth import CurrentActor, StaffActor
from housing.building_money.models import BuildingReport
from housing.building_money.queries import readable_buildings
from housing.building_money.rules import Quarter, asked_quarter, quarters_between
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import DomainError
from housing.registry.models import Building
from housing.routing import page_of
from housing.settings import Settings
from housing.validation import Id, PageNumber, Text
from housing.web import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)

CONSOLE_QUARTERS = 4  # the console's columns: the last quarters over
CONSOLE_PAGE = 50  # buildings a page


@router.get("/buildings/{building_id}/money", response_class=HTMLResponse)
def account_page(
    building_id: Id,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
) -> Response:
    account = reading.account_of(session, actor, building_id, today=today, timezone=settings.timezone)
    return render(
        request,
        "money/account.html",
        actor=actor,
        building=account.building,
        now=account.now,
        reports=account.reports,
        label=category_label,
    )


@router.get("/buildings/{building_id}/money/{quarter}.pdf")
def report_pdf_page(
    building_id: Id,
    quarter: Text,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
) -> Response:
    shown = reading.asked_report(
        session, actor, building_id, quarter, today=today, timezone=settings.timezone
    )
    building = reading.building_named(session, building_id)
    language = request_language(request, actor.language)
    return pdf_response(shown, building, language=language, timezone=settings.timezone)


@router.get("/buildings/{building_id}/money/{quarter}", response_class=HTMLResponse)
def report_page(
    building_id: Id,
    quarter: Text,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
) -> Response:
    return _report(request, session, actor, settings, today, building_id, asked_quarter(quarter))


def _report(
    request: Request,
    session: Session,
    actor: Actor,
    settings: Settings,
    today: date,
    building_id: int,
    quarter: Quarter,
    refusal: str = "",
    status_code: int = 200,
) -> Response:
    shown = reading.report_for(session, actor, building_id, quarter, today=today, timezone=settings.timezone)
    building = reading.building_named(session, building_id)
    may_publish = (
        not shown.published and reading.sees_drafts(actor) and actor.role.value in ("admin", "manager")
    )
    return render(
        request,
        "money/report.html",
        status_code,
        actor=actor,
        building=building,
        report=shown,
        may_publish=may_publish and quarter.is_over(today),
        due_on=quarter.due_on(settings.money.report_due_days),
        refusal=refusal,
        label=category_label,
    )


@router.post("/buildings/{building_id}/money/{quarter}", response_class=HTMLResponse)
def publish_page(
    building_id: Id,
    quarter: Text,
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
) -> Response:
    chosen = asked_quarter(quarter)
    reading.report_for(
        session, actor, building_id, chosen, today=today, timezone=settings.timezone
    )  # 404 first
    try:
        publish_report(
            session, actor, building_id=building_id, quarter=chosen, today=today, now=now, settings=settings
        )
    except DomainError as error:
        session.rollback()
        _ = gettext_for(request, actor)
        refusals = {
            "not_over": _("The quarter is not over yet: its report is published after it ends."),
            "published": _("This report is already published."),
            "order": _("Publish the report on the quarter before first: quarters are reported in order."),
            "unmanaged": _("No company managed the building at the quarter's end: nobody reports on it."),
        }
        refusal = refusals.get(error.extra.get("reason", ""), _("This report cannot be published."))
        return _report(request, session, actor, settings, today, building_id, chosen, refusal, error.status)
    return RedirectResponse(f"/buildings/{building_id}/money/{chosen}?published=1", status_code=303)


def report_states(
    session: Session, building_ids: list[int], quarters: list[Quarter], today: date, due_days: int
) -> dict[tuple[int, Quarter], dict]:
    """Each (building, quarter): published (on time or late), open, due (by a day) or late."""
    published = {
        (building_id, Quarter(year, number)): on_time
        for building_id, year, number, on_time in session.exec(
            select(
                BuildingReport.building_id,
                BuildingReport.year,
                BuildingReport.quarter,
                BuildingReport.on_time,
            )
            .where(col(BuildingReport.building_id).in_(building_ids))
            .where(BuildingReport.year >= min((q.year for q in quarters), default=2000))
        ).all()
    }
    states = {}
    for building_id in building_ids:
        for quarter in quarters:
            due_on = quarter.due_on(due_days)
            on_time = published.get((building_id, quarter))
            if on_time is not None:
                state = "published" if on_time else "published_late"
            elif not quarter.is_over(today):
                state = "open"
            elif today <= due_on:
                state = "due"
            else:
                state = "late"
            states[(building_id, quarter)] = {"state": state, "due_on": due_on}
    return states


@router.get("/console/money/reports", response_class=HTMLResponse)
def console_reports(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    settings: SettingsDep,
    today: Today,
    page: Annotated[PageNumber, Query()] = 1,
) -> Response:
    """The company's buildings by the last quarters: which reports are published, due or late."""
    last = Quarter.of(today)
    first = max(settings.money.first_quarter, Quarter(last.year - 1, last.number).next())
    quarters = list(reversed(quarters_between(first, last)))[:CONSOLE_QUARTERS]
    scope = readable_buildings(actor, today)
    paging = page_of(session, scope, page, CONSOLE_PAGE)
    buildings = session.exec(
        scope.order_by(Building.address, Building.id)
        .limit(CONSOLE_PAGE)
        .offset((paging["page"] - 1) * CONSOLE_PAGE)
    ).all()
    states = report_states(
        session, [b.id for b in buildings], quarters, today, settings.money.report_due_days
    )
    return render(
        request,
        "money/report_console.html",
        actor=actor,
        buildings=buildings,
        quarters=quarters,
        states=states,
        paging=paging,
    )
