"""API models of invoices, balances and billing runs: XCreate, XRead.

A period travels as "YYYY-MM" (the month, "2026-10") and is kept as the month's first day.
Money is tiyin (`*_minor`) beside its currency code.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from billing.models import Basis, InvoiceStatus, LedgerKind, QuantitySource
from billing.runs.lines import DraftInvoice
from billing.runs.service import RunSummary
from housing.schemas import ReadModel
from housing.validation import InputModel, Money, month_start
from housing.validation import Month as Period


def period_start(period: str) -> date:
    """ "2026-10" -> 1 October 2026 (the text is a validation.Month)."""
    return month_start(period)


class InvoiceLineRead(ReadModel):
    id: int
    service_id: int
    tariff_id: int | None
    basis: Basis
    quantity: Decimal
    quantity_source: QuantitySource = Field(
        description="metered, metered_estimated (a boundary estimated: explanation.estimated_hours),"
        " average, norm, shared, recalculation (explanation.months), area, residents, fixed"
    )
    source_text: str = Field(
        "", description="How the quantity was obtained, in words, in the reader's language (Accept-Language)"
    )
    explanation: dict[str, Any]
    amount_minor: int
    deduction_minor: int
    deduction_reason: str
    corrects_line_id: int | None


class InvoiceRead(ReadModel):
    id: int
    number: str
    apartment_id: int
    company_id: int
    period: date = Field(description="The month's first day")
    status: InvoiceStatus
    issued_at: datetime | None
    due_date: date
    total_minor: int
    currency: str


class InvoiceDetail(InvoiceRead):
    lines: list[InvoiceLineRead] = []
    penalty_rate: str = Field(
        "",
        description="The late penalty a day past due that applies to this account today, e.g. '0.1%'"
        " (organisations holding more than half of the premises: their own rate, docs/ledger.md)",
    )
    penalty_cap: str = Field(
        "", description="The cap of a month's penalties, as a share of its charge: '50%'"
    )
    penalty_payer: str = Field("", description="individual or organisation: whose rate applies")


class BalanceRead(BaseModel):
    apartment_id: int
    balance_minor: int = Field(description="What the account owes; negative is a credit")
    currency: str
    debt: bool
    credit_minor: int = Field(description="A credit carried forward, 0 when the account owes")


class MeterMonthRead(BaseModel):
    """What the billing run would bill for one apartment meter's month, worked out for it alone."""

    meter_id: int
    service: str = Field(description="The service billed by this meter's kind")
    period: str = Field(description='"YYYY-MM"')
    quantity_source: str = Field(description="metered, metered_estimated, average or norm")
    source_text: str = Field(description="The same in words, in the reader's language")
    quantity: Decimal | None = Field(description="In the meter's unit; null for the norm (per resident)")
    estimated_hours: Decimal | None
    why: str = Field(description="Why there is no metered quantity, if there is none")
    average_period: int | None = Field(description="The month's place in a row billed by the average")
    recalculation_months: list[str] = Field(
        description="Earlier months billed by estimate that this month's invoice recalculates"
    )
    recalculation_quantity: Decimal | None = Field(description="The meter's consumption over those months")


class BillingRunCreate(InputModel):
    period: Period
    dry_run: bool = Field(True, description="Compute the invoices and write nothing")


class DraftInvoiceRead(BaseModel):
    number: str
    apartment_id: int
    company_id: int
    due_date: date
    total_minor: int
    lines: int = Field(description="How many lines it would have")

    @classmethod
    def of(cls, draft: DraftInvoice) -> "DraftInvoiceRead":
        return cls(
            number=draft.number,
            apartment_id=draft.apartment_id,
            company_id=draft.company_id,
            due_date=draft.due_date,
            total_minor=draft.total_minor,
            lines=len(draft.lines),
        )


class BillingRunRead(BaseModel):
    period: str = Field(description='"YYYY-MM"')
    dry_run: bool
    locked_out: bool = Field(description="Another run held the lock, so nothing was done")
    issued: int = Field(description="Invoices issued, or that a dry run would issue")
    total_minor: int
    without_manager: int
    without_lines: int
    failed: int
    warning_count: int
    warnings: list[str]
    invoices: list[DraftInvoiceRead] = Field(
        description="A dry run's would-be invoices; empty for a real run"
    )
    summary: str

    @classmethod
    def of(cls, run: RunSummary) -> "BillingRunRead":
        return cls(
            period=f"{run.period:%Y-%m}",
            dry_run=run.dry_run,
            locked_out=run.locked_out,
            issued=run.issued,
            total_minor=run.total_minor,
            without_manager=run.without_manager,
            without_lines=run.without_lines,
            failed=run.failed,
            warning_count=run.warning_count,
            warnings=run.warnings,
            invoices=[DraftInvoiceRead.of(d) for d in run.invoices],
            summary=str(run),
        )


class AdjustmentCreate(InputModel):
    amount_minor: Money = Field(description="Tiyin: negative credits the account, positive charges more")
    reason: str = Field(min_length=3, max_length=200)


class LedgerEntryRead(ReadModel):
    id: int
    apartment_id: int
    kind: LedgerKind
    amount_minor: int = Field(description="Positive raises what is owed, negative lowers it")
    currency: str
    invoice_id: int | None
    invoice_line_id: int | None
    payment_attempt_id: int | None
    reference: str
    occurred_at: datetime
