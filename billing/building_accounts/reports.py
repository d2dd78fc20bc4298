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

Drafting and publishing work on many buildings at once (`report_drafts`, `publish_reports`:
one query per table, a company's 1,000 buildings in seconds, docs/benchmarks.md); the
one-building verbs are the same code with one id.
"""

from collections import defaultdict
from collections.abc import Iterable
from copy import deepcopy
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
from housing.building_money.service import building_areas
from housing.clock import local_midnight
from housing.errors import Conflict, Forbidden, NotFound
from housing.notifications.service import Notice, notify_each
from housing.registry.models import Apartment, Building, BuildingManagement, Ownership
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
    body = deepcopy(report.body or {})  # the lists are handed out and may be added to (links)
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


def _expenses_before(session: Session, building_ids: list[int], day: date) -> dict[int, int]:
    """Each building's expenses dated before `day` (corrections included)."""
    totals = dict.fromkeys(building_ids, 0)
    totals.update(
        (building_id, int(total or 0))
        for building_id, total in session.exec(
            select(BuildingExpense.building_id, func.sum(BuildingExpense.amount_minor))
            .where(col(BuildingExpense.building_id).in_(building_ids), BuildingExpense.spent_on < day)
            .group_by(BuildingExpense.building_id)
        ).all()
    )
    return totals


def _reports_on(session: Session, building_ids: list[int], quarter: Quarter) -> dict[int, BuildingReport]:
    return {
        report.building_id: report
        for report in session.exec(
            select(BuildingReport).where(
                col(BuildingReport.building_id).in_(building_ids),
                BuildingReport.year == quarter.year,
                BuildingReport.quarter == quarter.number,
            )
        ).all()
    }


def _companies(session: Session, building_ids: list[int], day: date) -> dict[int, int]:
    """The company managing each building on `day` (buildings nobody managed are left out)."""
    return dict(
        session.exec(
            select(BuildingManagement.building_id, BuildingManagement.company_id).where(
                col(BuildingManagement.building_id).in_(building_ids), in_force(BuildingManagement, day)
            )
        ).all()
    )


def _works(session: Session, rows: list[BuildingExpense]) -> dict[int, tuple[list[dict], list[dict]]]:
    """Each building's expenses as its report lists them: works (with documents and requests) and
    corrections (with what they correct); one query per table for all the buildings."""
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
    listed: dict[int, tuple[list[dict], list[dict]]] = defaultdict(lambda: ([], []))
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
        works, corrections = listed[row.building_id]
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
    return listed


def report_draft(session: Session, building_id: int, quarter: Quarter, *, timezone: str) -> ReportData:
    """The report on `quarter` as it would be published now (the current quarter: so far)."""
    return report_drafts(session, [building_id], quarter, timezone=timezone)[building_id]


def report_drafts(
    session: Session, building_ids: Iterable[int], quarter: Quarter, *, timezone: str
) -> dict[int, ReportData]:
    """`report_draft` of many buildings at once: one query per table whatever their number."""
    ids = sorted(set(building_ids))
    start, end = moment(quarter.first_day, timezone), moment(quarter.end, timezone)
    previous = _reports_on(session, ids, quarter.previous())
    collected_end = collected_by_building(session, ids, end)
    collected_start = collected_by_building(session, ids, start)
    spent_before = _expenses_before(session, ids, quarter.first_day)
    rows = list(
        session.exec(
            select(BuildingExpense)
            .where(
                col(BuildingExpense.building_id).in_(ids),
                BuildingExpense.spent_on >= quarter.first_day,
                BuildingExpense.spent_on < quarter.end,
            )
            .order_by(BuildingExpense.building_id, BuildingExpense.spent_on, BuildingExpense.id)
        ).all()
    )
    listed = _works(session, rows)
    debts = debts_by_building(session, ids, end)
    areas = building_areas(session, ids)
    companies = _companies(session, ids, quarter.last_day)
    by_building: dict[int, list[BuildingExpense]] = defaultdict(list)
    for row in rows:
        by_building[row.building_id].append(row)
    drafts = {}
    for building_id in ids:
        earlier = previous.get(building_id)
        if earlier is not None:
            opening = earlier.closing_balance_minor
            base = earlier.collected_to_date_minor
            late = collected_start[building_id] - earlier.collected_to_date_minor
        else:
            opening = collected_start[building_id] - spent_before[building_id]
            base, late = collected_start[building_id], 0
        theirs = by_building.get(building_id, [])
        by_category: dict[str, int] = {}
        for category in ExpenseCategory:
            amount = sum(row.amount_minor for row in theirs if row.category == category)
            if amount:
                by_category[category.value] = amount
        expenses = sum(row.amount_minor for row in theirs)
        income = collected_end[building_id] - base
        works, corrections = listed.get(building_id, ([], []))
        debt = debts[building_id]
        drafts[building_id] = ReportData(
            building_id=building_id,
            quarter=quarter,
            company_id=companies.get(building_id),
            area_m2=areas[building_id],
            opening_balance_minor=opening,
            income_minor=income,
            income_late_minor=late,
            expenses_minor=expenses,
            closing_balance_minor=opening + income - expenses,
            collected_to_date_minor=collected_end[building_id],
            debt_minor=debt.debt_minor,
            accounts_in_debt=debt.accounts_in_debt,
            accounts=debt.accounts,
            by_category=by_category,
            works=works,
            corrections=corrections,
        )
    return drafts


def require_publisher(
    session: Session, actor: Actor, building_ids: list[int], quarter: Quarter
) -> dict[int, int]:
    """The company that reports on each building for `quarter` (the one managing it on the
    quarter's last day), if `actor` may publish for it: its managers, or an admin."""
    if actor.role not in BOOKKEEPERS:
        raise Forbidden("only the managing company's managers and admins publish a building's report")
    companies = _companies(session, building_ids, quarter.last_day)
    for building_id in building_ids:
        company_id = companies.get(building_id)
        if actor.role is not Role.admin and (company_id is None or company_id != actor.company_id):
            raise NotFound(f"building {building_id} not found")
        if company_id is None:
            raise Conflict(
                f"no company managed building {building_id} on {quarter.last_day}; nobody reports",
                reason="unmanaged",
            )
    return companies


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
    return publish_reports(
        session, actor, building_ids=[building_id], quarter=quarter, today=today, now=now, settings=settings
    )[0]


def publish_reports(
    session: Session,
    actor: Actor,
    *,
    building_ids: Iterable[Any],
    quarter: Quarter,
    today: date,
    now: datetime,
    settings: Any,
) -> list[BuildingReport]:
    """`publish_report` for several buildings at once, all or none (a company's quarter in one go)."""
    ids = sorted(set(building_ids))
    if any(not isinstance(i, int) or isinstance(i, bool) or not 0 < i < 2**31 for i in ids):
        raise NotFound("building not found")
    # Locked first, in id order: expenses and a second publisher wait; two publishers never deadlock.
    buildings = {
        b.id: b
        for b in session.exec(
            select(Building).where(col(Building.id).in_(ids)).order_by(Building.id).with_for_update()
        ).all()
    }
    missing = [i for i in ids if i not in buildings]
    if missing:
        raise NotFound(f"building {missing[0]} not found")
    companies = require_publisher(session, actor, ids, quarter)
    if not quarter.is_over(today):
        raise Conflict(
            f"quarter not over: {quarter} ends on {quarter.last_day}", field="quarter", reason="not_over"
        )
    published = _reports_on(session, ids, quarter)
    if published:
        raise Conflict(
            f"the report on {quarter} for building {min(published)} is already published", reason="published"
        )
    _require_order(session, ids, quarter, settings)
    drafts = report_drafts(session, ids, quarter, timezone=settings.timezone)
    due_on = quarter.due_on(settings.money.report_due_days)
    reports = []
    for building_id in ids:
        data = drafts[building_id]
        report = BuildingReport(
            building_id=building_id,
            company_id=companies[building_id],
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
        reports.append(report)
    session.add_all(reports)
    session.flush()
    session.add_all(
        BuildingReportLine(
            report_id=report.id,
            building_id=report.building_id,
            company_id=report.company_id,
            district_id=buildings[report.building_id].district_id,
            year=quarter.year,
            quarter=quarter.number,
            category=ExpenseCategory(category),
            amount_minor=amount,
            area_m2=report.area_m2,
        )
        for report in reports
        for category, amount in drafts[report.building_id].by_category.items()
    )
    session.flush()
    _tell_owners(session, buildings, quarter, today, now)
    return reports


def _require_order(session: Session, ids: list[int], quarter: Quarter, settings: Any) -> None:
    """Refuses (409) a building whose previous quarter's report is missing, unless that quarter is
    before the first one reported on, no company managed the building on its last day (so nobody
    owes it, as `housing.building_money.deadlines` says), or the building's account had nothing
    before this quarter."""
    previous = quarter.previous()
    if previous < settings.money.first_quarter:
        return
    done = _reports_on(session, ids, previous)
    owed = _companies(session, ids, previous.last_day)  # nobody managed it then: no report is owed
    waiting = [i for i in ids if i not in done and i in owed]
    if not waiting:
        return
    with_money = had_money_before(session, waiting, moment(quarter.first_day, settings.timezone))
    spent = _expenses_before(session, waiting, quarter.first_day)
    for building_id in waiting:
        if building_id in with_money or spent[building_id] != 0:
            raise Conflict(
                f"publish the report on {previous} for building {building_id} first: quarters are reported in order",
                reason="order",
            )


def _tell_owners(
    session: Session, buildings: dict[int, Building], quarter: Quarter, today: date, now: datetime
) -> None:
    """One `building_report` notice to each owner's account, once per building and quarter."""
    notices = [
        Notice(
            user_id,
            {"quarter": str(quarter), "address": buildings[building_id].address, "building_id": building_id},
            link=f"/buildings/{building_id}/money/{quarter}",
            key=f"{building_id}:{quarter}",
        )
        for user_id, building_id in session.exec(owner_accounts(list(buildings), today)).all()
    ]
    notify_each(session, notices, kind=REPORT_KIND, dedupe="report", now=now)


def owner_accounts(building_ids: list[int], today: date):
    """(user id, building id) of the active resident accounts of the people owning premises of
    the buildings today, once per building."""
    return (
        select(User.id, Apartment.building_id)
        .join(Ownership, col(Ownership.person_id) == User.person_id)
        .join(Apartment, col(Apartment.id) == Ownership.apartment_id)
        .where(
            col(Apartment.building_id).in_(building_ids),
            in_force(Ownership, today),
            User.role == Role.resident,
            col(User.is_active),
        )
        .distinct()
        .order_by(Apartment.building_id, User.id)
    )
