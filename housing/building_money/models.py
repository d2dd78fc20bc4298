"""Each building's money on the housing side: the company's expenses on a building (alone or
shared with others and split exactly), their documents and the requests they answered, and the
quarterly reports once published (frozen figures, and one line per category for comparing).

What residents paid comes from billing's ledger (`billing.building_accounts`), never entered
here. Expenses are never edited or deleted: a mistake is corrected by a new expense that names
the one it corrects (`corrects_id`, an amount of either sign), dated in a quarter still open,
so it shows in the next report. An expense dated in a quarter whose report is published is
refused. Money is integer tiyin (`*_minor`) with a currency.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from housing.building_money.rules import ExpenseCategory, SplitKey
from housing.db import UTCDateTime, created_at_field


class SharedExpense(SQLModel, table=True):
    """One bill paid for several buildings; its parts are the `BuildingExpense` rows naming it."""

    __tablename__ = "shared_expense"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="management_company.id", index=True)
    spent_on: date
    category: ExpenseCategory = Field(sa_type=String(20))
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(default="UZS", max_length=3)
    supplier: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=1000)
    split_key: SplitKey = Field(sa_type=String(10))
    split_note: str = Field(default="", max_length=500, description="Where manual weights come from")
    weights: dict[str, str] = Field(
        default_factory=dict, sa_type=JSON, description="building id -> the weight it was split by"
    )
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class BuildingExpense(SQLModel, table=True):
    """What the company spent on one building: an expense of its own or its part of a shared one."""

    __tablename__ = "building_expense"
    __table_args__ = (
        CheckConstraint(
            "amount_minor > 0 OR (corrects_id IS NOT NULL AND amount_minor <> 0)", name="amount_sign"
        ),
        UniqueConstraint("building_id", "bank_reference"),
        Index(None, "building_id", "spent_on"),
        Index(None, "company_id", "spent_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id")
    company_id: int = Field(foreign_key="management_company.id")
    spent_on: date
    category: ExpenseCategory = Field(sa_type=String(20))
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(default="UZS", max_length=3)
    supplier: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=1000)
    shared_expense_id: int | None = Field(default=None, foreign_key="shared_expense.id", index=True)
    corrects_id: int | None = Field(default=None, foreign_key="building_expense.id", index=True)
    bank_reference: str | None = Field(
        default=None, max_length=200, description="The statement line it was imported from: imported once"
    )
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class ExpenseDocument(SQLModel, table=True):
    """An act, an invoice or a photo behind an expense (an image or a PDF on disk).

    A shared expense's document is listed under each of its parts (the same stored file).
    """

    __tablename__ = "expense_document"

    id: int | None = Field(default=None, primary_key=True)
    expense_id: int = Field(foreign_key="building_expense.id", index=True)
    title: str = Field(default="", max_length=200)
    stored_name: str = Field(max_length=100)
    content_type: str = Field(max_length=50)
    size_bytes: int
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class ExpenseRequest(SQLModel, table=True):
    """A service request the expense's work answered."""

    __tablename__ = "expense_request"

    expense_id: int = Field(foreign_key="building_expense.id", primary_key=True)
    request_id: int = Field(foreign_key="service_request.id", primary_key=True, index=True)


class BuildingReport(SQLModel, table=True):
    """A building's published report on one quarter: frozen when published, never changed.

    Income is what residents' payments covered of the company's own charges (the management
    fee and the building's charges), counted by allocation as billing's ledger does: the
    cumulative figure at the quarter's end is kept (`collected_to_date_minor`), so the next
    report's income is the difference and money booked late for an earlier quarter shows as
    `income_late_minor` in the next one. The four reports of a year add up to the year.
    """

    __tablename__ = "building_report"
    __table_args__ = (
        UniqueConstraint("building_id", "year", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        Index(None, "company_id", "year", "quarter"),
    )

    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id")
    company_id: int = Field(foreign_key="management_company.id")
    year: int
    quarter: int
    currency: str = Field(default="UZS", max_length=3)
    area_m2: Decimal = Field(
        max_digits=12, decimal_places=2, description="All premises' area, for per-m2 figures"
    )
    opening_balance_minor: int = Field(
        sa_type=BigInteger, description="The previous report's closing balance"
    )
    income_minor: int = Field(
        sa_type=BigInteger, description="Collected in the quarter, late bookings included"
    )
    income_late_minor: int = Field(
        default=0,
        sa_type=BigInteger,
        description="Of the income: booked after an earlier report was published",
    )
    expenses_minor: int = Field(
        sa_type=BigInteger, description="Expenses dated in the quarter, corrections included"
    )
    closing_balance_minor: int = Field(sa_type=BigInteger)
    collected_to_date_minor: int = Field(sa_type=BigInteger, description="All income up to the quarter's end")
    debt_minor: int = Field(
        sa_type=BigInteger, description="Residents' debt at the quarter's end, all accounts together"
    )
    accounts_in_debt: int
    accounts: int
    body: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSON, description="The rest as published: works, corrections, documents"
    )
    due_on: date = Field(description="The last day it was on time")
    on_time: bool
    published_at: datetime = Field(sa_type=UTCDateTime)
    published_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class BuildingReportLine(SQLModel, table=True):
    """A published report's expenses in one category, with what officials filter by, so the
    city's comparison reads one narrow table."""

    __tablename__ = "building_report_line"
    __table_args__ = (
        UniqueConstraint("report_id", "category"),
        Index(None, "year", "quarter", "category"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="building_report.id")
    building_id: int = Field(foreign_key="building.id", index=True)
    company_id: int = Field(foreign_key="management_company.id")
    district_id: int = Field(foreign_key="district.id")
    year: int
    quarter: int
    category: ExpenseCategory = Field(sa_type=String(20))
    amount_minor: int = Field(sa_type=BigInteger)
    area_m2: Decimal = Field(max_digits=12, decimal_places=2)
