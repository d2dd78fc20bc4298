"""API shapes of a building's account and its quarterly reports (read only: publishing takes no body)."""

from datetime import date, datetime

from pydantic import BaseModel

from housing.schemas import ReadModel


class ReportDocument(BaseModel):
    id: int
    title: str
    content_type: str
    url: str


class ReportRequest(BaseModel):
    id: int
    category: str


class CorrectedExpense(BaseModel):
    id: int
    spent_on: date
    quarter: str
    category: str
    amount_minor: int
    supplier: str


class ReportWork(BaseModel):
    id: int
    spent_on: date
    category: str
    amount_minor: int
    supplier: str
    description: str
    shared: bool
    documents: list[ReportDocument]
    requests: list[ReportRequest]
    corrects: CorrectedExpense | None = None


class ReportSummary(ReadModel):
    building_id: int
    quarter: str
    currency: str
    opening_balance_minor: int
    income_minor: int
    income_late_minor: int
    expenses_minor: int
    closing_balance_minor: int
    published: bool
    due_on: date | None
    on_time: bool | None
    published_at: datetime | None


class ReportRead(ReportSummary):
    """A published report as frozen, or (staff only) the draft as it would be published now."""

    company_id: int | None
    area_m2: str
    collected_to_date_minor: int
    debt_minor: int
    accounts_in_debt: int
    accounts: int
    by_category: dict[str, int]
    works: list[ReportWork]
    corrections: list[ReportWork]


class AccountRead(BaseModel):
    """The building's account now: the current quarter so far, and its published reports."""

    building_id: int
    currency: str
    quarter: str
    balance_minor: int
    opening_balance_minor: int
    income_minor: int
    expenses_minor: int
    debt_minor: int
    accounts_in_debt: int
    accounts: int
    reports: list[ReportSummary]
