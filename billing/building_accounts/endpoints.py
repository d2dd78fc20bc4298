"""JSON routes of a building's account and its quarterly reports: read, publish, print."""

from fastapi import APIRouter, status
from fastapi.responses import Response

from billing.building_accounts import reading
from billing.building_accounts.report_pdf import pdf_response
from billing.building_accounts.reports import of_report, publish_report, reports_of
from billing.building_accounts.schemas import AccountRead, ReportRead, ReportSummary
from housing.auth import CurrentActor
from housing.building_money.queries import require_money_reader
from housing.building_money.rules import asked_quarter
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.i18n import LANGUAGES
from housing.schemas import API_PROBLEMS, problems
from housing.validation import Id, Text

router = APIRouter(tags=["building money"], responses=API_PROBLEMS)


@router.get("/buildings/{building_id}/account", response_model=AccountRead)
def get_account(
    building_id: Id, session: SessionDep, actor: CurrentActor, settings: SettingsDep, today: Today
):
    """The current quarter so far (income, expenses, balance, residents' debt in aggregate) and
    the published reports, the latest first."""
    account = reading.account_of(session, actor, building_id, today=today, timezone=settings.timezone)
    now = account.now
    return {
        "building_id": building_id,
        "currency": now.currency,
        "quarter": str(now.quarter),
        "balance_minor": now.closing_balance_minor,
        "opening_balance_minor": now.opening_balance_minor,
        "income_minor": now.income_minor,
        "expenses_minor": now.expenses_minor,
        "debt_minor": now.debt_minor,
        "accounts_in_debt": now.accounts_in_debt,
        "accounts": now.accounts,
        "reports": [of_report(r).as_json() for r in account.reports],
    }


@router.get("/buildings/{building_id}/reports", response_model=list[ReportSummary])
def list_reports(
    building_id: Id, session: SessionDep, actor: CurrentActor, settings: SettingsDep, today: Today
):
    """The building's published reports, the latest first (four a year: not paginated)."""
    require_money_reader(session, actor, building_id, today)
    return [of_report(r).as_json() for r in reports_of(session, building_id)]


@router.get("/buildings/{building_id}/reports/{quarter}", response_model=ReportRead)
def get_report(
    building_id: Id,
    quarter: Text,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
):
    """The published report on the quarter (YYYY-QN); for the company's staff and admins, the
    draft as it would be published now when it is not yet."""
    shown = reading.asked_report(
        session, actor, building_id, quarter, today=today, timezone=settings.timezone
    )
    return shown.as_json()


@router.post(
    "/buildings/{building_id}/reports/{quarter}",
    response_model=ReportRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        403, 409, why={409: "The quarter is not over, its report is published, or an earlier one is missing"}
    ),
)
def post_report(
    building_id: Id,
    quarter: Text,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
):
    """Publishes the report on the quarter, frozen from now on; the building's owners are told."""
    report = publish_report(
        session,
        actor,
        building_id=building_id,
        quarter=asked_quarter(quarter),
        today=today,
        now=now,
        settings=settings,
    )
    return reading.with_links(of_report(report)).as_json()


@router.get(
    "/buildings/{building_id}/reports/{quarter}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The report as a PDF"}},
)
def get_report_pdf(
    building_id: Id,
    quarter: Text,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    today: Today,
    language: Text = LANGUAGES[0],
):
    """The published report (or the staff's draft) as a PDF in uz, ru or en."""
    shown = reading.asked_report(
        session, actor, building_id, quarter, today=today, timezone=settings.timezone
    )
    building = reading.building_named(session, building_id)
    return pdf_response(shown, building, language=reading.pdf_language(language), timezone=settings.timezone)
