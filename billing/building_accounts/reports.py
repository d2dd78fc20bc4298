"""A building's quarterly report: drafted from the ledger and the expenses, published frozen.

The figures (docs/building-reports.md):

- opening = the previous quarter's report's closing; without one (the building's first
  report), what payments brought before the quarter less the expenses dated before it;
- income = collected to the quarter's end (`income.collected_to`) less what the previous
  report froze as collected to its date (without one: collected to the quarter's start);
- income_late, part of the income = collected to the previous quarter's end as the ledger
  says now, less what the previous report froze: money booked after it was published but
  dated in its quarter or before;
- expenses = those dated in the quarter, corrections of earlier ones included (each listed
  with the expense it corrects); closing = opening + income - expenses;
- residents' debt at the quarter's end, in aggregate only.

So the reports of a year add up: each opening is the closing before it, and the incomes sum
to what was collected over the year. Publishing stores `BuildingReport` and one
`BuildingReportLine` per category with a non-zero amount, with the building's row locked so
an expense cannot be booked into the quarter while it is frozen. Flush, never commit.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, func, select

from billing.building_accounts.income import collected_by_building, debts_by_building, had_money_before
from housing.accounts.models import Role, User
from housing.actors import BOOKKEEPERS, Actor
from housing.building_money.models import (
    BuildingExpense,
    BuildingReport,
    BuildingReportLine,
    ExpenseDocument,
    ExpenseRequest,
)
from housing.building_money.rules import ExpenseCategory, Quarter
from housing.building_money.service import building_areas, company_managing, expenses_in, lock_building
from housing.clock import local_midnight
from housing.errors import Conflict, Forbidden, NotFound
from housing.notifications.service import notify
from housing.registry.models import Apartment, Building, Ownership
from housing.registry.periods import in_force
from housing.requests.models import RequestCategory, ServiceRequest

REPORT_KIND = "building_report"


@dataclass
class ReportData:
    """A report's figures and lists, as drafted now or as published (`of_report`)."""

    building_id: int
    quarter: Quarter
    company_id: int | None
    area_m2: Decimal
    opening_balance_minor: int
    income_minor: int
    income_late_minor: int
    expenses_minor: int
    closing_balance_minor: int
    collected_to_date_minor: int
    debt_minor: int
    accounts_in_debt: int
    accounts: int
    by_category: dict[str, int] = field(default_factory=dict)
    works: list[dict[str, Any]] = field(default_factory=list)
    corrections: list[dict[str, Any]] = field(default_factory=list)
    currency: str = "UZS"
    published: bool = False
    due_on: date | None = None
    on_time: bool | None = None
    published_at: datetime | None = None

    def body(self) -> dict[str, Any]:
        """What the report keeps as published beyond its columns (JSON)."""
        return {"by_category": self.by_category, "works": self.works, "corrections": self.corrections}

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["quarter"] = str(self.quarter)
        data["area_m2"] = str(self.area_m2)
        return data


def moment(day: date, timezone: str) -> datetime:
    """A quarter's boundary as a moment: local midnight of `day`."""
    return local_midnight(day, timezone)


def report_of(session: Session, building_id: int, quarter: Quarter) -> BuildingReport | None:
    return session.exec(
        select(BuildingReport).where(
            BuildingReport.building_id == building_id,
            BuildingReport.year == quarter.year,
            BuildingReport.quarter == quarter.number,
        )
    ).first()


def reports_of(session: Session, building_id: int) -> list[BuildingReport]:
    """The building's published reports, the latest first."""
    return list(
        session.exec(
            select(BuildingReport)
            .where(BuildingReport.building_id == building_id)
            .order_by(col(BuildingReport.year).desc(), col(BuildingReport.quarter).desc())
        ).all()
    )


def of_report(report: BuildingReport) -> ReportData:
    """A published report as it was frozen."""
    body = report.body or {}
    return ReportData(
        building_id=report.building_id,
        quarter=Quarter(report.year, report.quarter),
        company_id=report.company_id,
        area_m2=Decimal(report.area_m2),
        opening_balance_minor=report.opening_balance_minor,
        income_minor=report.income_minor,
        income_late_minor=report.income_late_minor,
        expenses_minor=report.expenses_minor,
        closing_balance_minor=report.closing_balance_minor,
        collected_to_date_minor=report.collected_to_date_minor,
        debt_minor=report.debt_minor,
        accounts_in_debt=report.accounts_in_debt,
        accounts=report.accounts,
        by_category=dict(body.get("by_category", {})),
        works=list(body.get("works", [])),
        corrections=list(body.get("corrections", [])),
        currency=report.currency,
        published=True,
        due_on=report.due_on,
        on_time=report.on_time,
        published_at=report.published_at,
    )


def _expenses_before(session: Session, building_id: int, day: date) -> int:
    return int(
        session.exec(
            select(func.coalesce(func.sum(BuildingExpense.amount_minor), 0)).where(
                BuildingExpense.building_id == building_id, BuildingExpense.spent_on < day
            )
        ).one()
    )


def _works(session: Session, rows: list[BuildingExpense]) -> tuple[list[dict], list[dict]]:
    """The quarter's expenses as the report lists them: works (with documents and requests) and
    corrections (with what they correct)."""
    ids = [row.id for row in rows]
    documents: dict[int, list[dict]] = defaultdict(list)
    for document in session.exec(
        select(ExpenseDocument).where(col(ExpenseDocument.expense_id).in_(ids)).order_by(ExpenseDocument.id)
    ):
        documents[document.expense_id].append(
            {"id": document.id, "title": document.title, "content_type": document.content_type}
        )
    requests: dict[int, list[dict]] = defaultdict(list)
    for expense_id, request_id, category in session.exec(
        select(ExpenseRequest.expense_id, ExpenseRequest.request_id, RequestCategory.code)
        .join(ServiceRequest, col(ServiceRequest.id) == ExpenseRequest.request_id)
        .join(RequestCategory, col(RequestCategory.id) == ServiceRequest.category_id)
        .where(col(ExpenseRequest.expense_id).in_(ids))
        .order_by(ExpenseRequest.request_id)
    ):
        requests[expense_id].append({"id": request_id, "category": category})
    corrected_ids = {row.corrects_id for row in rows if row.corrects_id is not None}
    corrected = {
        row.id: row
        for row in session.exec(select(BuildingExpense).where(col(BuildingExpense.id).in_(corrected_ids)))
    }
    works, corrections = [], []
    for row in rows:
        item = {
            "id": row.id,
            "spent_on": row.spent_on.isoformat(),
            "category": str(row.category),
            "amount_minor": row.amount_minor,
            "supplier": row.supplier,
            "description": row.description,
            "shared": row.shared_expense_id is not None,
            "documents": documents.get(row.id, []),
            "requests": requests.get(row.id, []),
        }
        if row.corrects_id is None:
            works.append(item)
            continue
        original = corrected[row.corrects_id]
        item["corrects"] = {
            "id": original.id,
            "spent_on": original.spent_on.isoformat(),
            "quarter": str(Quarter.of(original.spent_on)),
            "category": str(original.category),
            "amount_minor": original.amount_minor,
            "supplier": original.supplier,
        }
        corrections.append(item)
    return works, corrections


def report_draft(session: Session, building_id: int, quarter: Quarter, *, timezone: str) -> ReportData:
    """The report on `quarter` as it would be published now (the current quarter: so far)."""
    start, end = moment(quarter.first_day, timezone), moment(quarter.end, timezone)
    previous = report_of(session, building_id, quarter.previous())
    collected_end = collected_by_building(session, [building_id], end)[building_id]
    collected_start = collected_by_building(session, [building_id], start)[building_id]
    if previous is not None:
        opening = previous.closing_balance_minor
        base = previous.collected_to_date_minor
        late = collected_start - previous.collected_to_date_minor
    else:
        opening = collected_start - _expenses_before(session, building_id, quarter.first_day)
        base, late = collected_start, 0
    rows = expenses_in(session, building_id, quarter)
    by_category: dict[str, int] = {}
    for category in ExpenseCategory:
        amount = sum(row.amount_minor for row in rows if row.category == category)
        if amount:
            by_category[category.value] = amount
    expenses = sum(row.amount_minor for row in rows)
    works, corrections = _works(session, rows)
    debt = debts_by_building(session, [building_id], end)[building_id]
    income = collected_end - base
    return ReportData(
        building_id=building_id,
        quarter=quarter,
        company_id=company_managing(session, building_id, quarter.last_day),
        area_m2=building_areas(session, [building_id])[building_id],
        opening_balance_minor=opening,
        income_minor=income,
        income_late_minor=late,
        expenses_minor=expenses,
        closing_balance_minor=opening + income - expenses,
        collected_to_date_minor=collected_end,
        debt_minor=debt.debt_minor,
        accounts_in_debt=debt.accounts_in_debt,
        accounts=debt.accounts,
        by_category=by_category,
        works=works,
        corrections=corrections,
    )


def require_publisher(session: Session, actor: Actor, building_id: int, quarter: Quarter) -> int:
    """The company that reports on the building for `quarter` (the one managing it on the
    quarter's last day), if `actor` may publish for it: its managers, or an admin."""
    if actor.role not in BOOKKEEPERS:
        raise Forbidden("only the managing company's managers and admins publish a building's report")
    company_id = company_managing(session, building_id, quarter.last_day)
    if actor.role is not Role.admin and (company_id is None or company_id != actor.company_id):
        raise NotFound(f"building {building_id} not found")
    if company_id is None:
        raise Conflict(
            f"no company managed building {building_id} on {quarter.last_day}; nobody reports",
            reason="unmanaged",
        )
    return company_id


def publish_report(
    session: Session,
    actor: Actor,
    *,
    building_id: int,
    quarter: Quarter,
    today: date,
    now: datetime,
    settings: Any,
) -> BuildingReport:
    """Publishes the building's report on `quarter`, frozen; owners are told. See the module."""
    building = lock_building(session, building_id)  # first: expenses and a second publisher wait
    company_id = require_publisher(session, actor, building_id, quarter)
    if not quarter.is_over(today):
        raise Conflict(
            f"quarter not over: {quarter} ends on {quarter.last_day}", field="quarter", reason="not_over"
        )
    if report_of(session, building_id, quarter) is not None:
        raise Conflict(
            f"the report on {quarter} for building {building_id} is already published", reason="published"
        )
    previous = quarter.previous()
    first = settings.money.first_quarter
    if (
        previous >= first
        and report_of(session, building_id, previous) is None
        and (
            had_money_before(session, building_id, moment(quarter.first_day, settings.timezone))
            or _expenses_before(session, building_id, quarter.first_day) != 0
        )
    ):
        raise Conflict(
            f"publish the report on {previous} first: quarters are reported in order", reason="order"
        )
    data = report_draft(session, building_id, quarter, timezone=settings.timezone)
    due_on = quarter.due_on(settings.money.report_due_days)
    report = BuildingReport(
        building_id=building_id,
        company_id=company_id,
        year=quarter.year,
        quarter=quarter.number,
        area_m2=data.area_m2,
        opening_balance_minor=data.opening_balance_minor,
        income_minor=data.income_minor,
        income_late_minor=data.income_late_minor,
        expenses_minor=data.expenses_minor,
        closing_balance_minor=data.closing_balance_minor,
        collected_to_date_minor=data.collected_to_date_minor,
        debt_minor=data.debt_minor,
        accounts_in_debt=data.accounts_in_debt,
        accounts=data.accounts,
        body=data.body(),
        due_on=due_on,
        on_time=today <= due_on,
        published_at=now,
        published_by_id=actor.user_id,
    )
    session.add(report)
    session.flush()
    session.add_all(
        BuildingReportLine(
            report_id=report.id,
            building_id=building_id,
            company_id=company_id,
            district_id=building.district_id,
            year=quarter.year,
            quarter=quarter.number,
            category=ExpenseCategory(category),
            amount_minor=amount,
            area_m2=data.area_m2,
        )
        for category, amount in data.by_category.items()
    )
    session.flush()
    notify(
        session,
        user_ids=owner_accounts(building_id, today),
        kind=REPORT_KIND,
        params={"quarter": str(quarter), "address": building.address, "building_id": building_id},
        link=f"/buildings/{building_id}/money/{quarter}",
        dedupe=f"report:{building_id}:{quarter}",
        now=now,
    )
    return report


def owner_accounts(building_id: int, today: date):
    """The active resident accounts of the people owning premises of the building today (a select of ids)."""
    owners = (
        select(Ownership.person_id)
        .join(Apartment, col(Apartment.id) == Ownership.apartment_id)
        .where(Apartment.building_id == building_id, in_force(Ownership, today))
    )
    return (
        select(User.id)
        .where(User.role == Role.resident, col(User.is_active), col(User.person_id).in_(owners))
        .order_by(User.id)
    )


def building_of(session: Session, building_id: int) -> Building:
    building = session.get(Building, building_id)
    if building is None:
        raise NotFound(f"building {building_id} not found")
    return building
