"""Reading a building's account and reports, written once for the API, the pages and the PDF.

Who reads is `housing.building_money.queries.require_money_reader` (the building's residents,
its company's staff, admins and officials; anyone else: 404). A published report is read as
frozen; a quarter not yet published is a draft that only staff of the company and admins
see (residents and officials: 404, there is nothing published to read).
"""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from billing.building_accounts.reports import ReportData, of_report, report_draft, report_of, reports_of
from housing.accounts.models import Role
from housing.actors import Actor
from housing.building_money.models import BuildingReport
from housing.building_money.queries import require_money_reader
from housing.building_money.rules import Quarter, asked_quarter
from housing.errors import Invalid, NotFound
from housing.i18n import LANGUAGES
from housing.registry.models import Building

DOCUMENT_URL = "/api/v1/expense-documents/{id}"


def sees_drafts(actor: Actor) -> bool:
    return actor.role is Role.admin or actor.is_company_staff


def report_for(
    session: Session, actor: Actor, building_id: int, quarter: Quarter, *, today: date, timezone: str
) -> ReportData:
    """The published report on `quarter`, or the draft for staff; otherwise 404."""
    require_money_reader(session, actor, building_id, today)
    report = report_of(session, building_id, quarter)
    if report is not None:
        return with_links(of_report(report))
    if sees_drafts(actor) and quarter.first_day <= today:
        return with_links(report_draft(session, building_id, quarter, timezone=timezone))
    raise NotFound(f"no report on {quarter} for building {building_id} is published")


def asked_report(
    session: Session, actor: Actor, building_id: int, quarter: str, *, today: date, timezone: str
) -> ReportData:
    """`report_for` the quarter a route's path names (YYYY-QN; anything else 422)."""
    return report_for(session, actor, building_id, asked_quarter(quarter), today=today, timezone=timezone)


def with_links(data: ReportData) -> ReportData:
    """Each document of the report's works with the address it is downloaded from."""
    for item in [*data.works, *data.corrections]:
        for document in item.get("documents", []):
            document["url"] = DOCUMENT_URL.format(id=document["id"])
    return data


@dataclass(frozen=True)
class Account:
    building: Building
    now: ReportData  # the current quarter so far
    reports: list[BuildingReport]  # published, the latest first


def account_of(session: Session, actor: Actor, building_id: int, *, today: date, timezone: str) -> Account:
    building = require_money_reader(session, actor, building_id, today)
    current = report_draft(session, building_id, Quarter.of(today), timezone=timezone)
    return Account(building=building, now=with_links(current), reports=reports_of(session, building_id))


def building_named(session: Session, building_id: int) -> Building:
    building = session.get(Building, building_id)
    if building is None:
        raise NotFound(f"building {building_id} not found")
    return building


def pdf_language(text: str) -> str:
    """A PDF's language: one of the platform's (422 otherwise)."""
    if text not in LANGUAGES:
        raise Invalid(f"the languages are {', '.join(LANGUAGES)}", field="language")
    return text
