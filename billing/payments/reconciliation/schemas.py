"""API models of the reconciliation and of payments per gateway and day. Money is tiyin (`*_minor`)."""

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from billing.models import DEFAULT_CURRENCY, Gateway
from billing.payments.reconciliation.rules import Kind
from housing.schemas import ReadModel


class StatementGateway(StrEnum):
    """The providers whose statement files are imported."""

    payme = "payme"
    click = "click"


class StatementImportRead(BaseModel):
    gateway: Gateway
    imported: int = Field(description="New lines")
    already_imported: int = Field(description="Lines imported before (skipped)")
    replaced: int = Field(description="Performed lines a later refund of the same transaction replaced")
    days: list[date] = Field(description="The days reconciled again after the import")
    differences: int = Field(description="Differences on those days, of the payments you may see")


class ReconciliationRunRead(BaseModel):
    """A gateway's day as last reconciled; counted over the payments you may see."""

    gateway: Gateway
    day: date
    ran_at: datetime
    payments: int = Field(description="Payments paid that day")
    paid_minor: int
    refunded_minor: int = Field(description="Handed back that day")
    currency: str = DEFAULT_CURRENCY
    statement_lines: int | None = Field(
        description="Lines of the provider's statement of the day (of your accounts); None when none is imported"
    )
    differences: int


class DifferenceRead(ReadModel):
    id: int
    gateway: Gateway
    day: date
    kind: Kind
    external_id: str | None = Field(description="The provider's transaction id, or the payment's reference")
    payment_id: int | None = Field(validation_alias="payment_attempt_id")
    apartment_id: int | None
    ours_minor: int | None = Field(description="What we have; None when we have no such payment")
    theirs_minor: int | None = Field(
        description="What the ledger (or the statement) has; None when the statement has no such line"
    )
    currency: str = DEFAULT_CURRENCY
    detail: str
    created_at: datetime


class DailyPaymentsRead(BaseModel):
    day: date
    gateway: Gateway
    payments: int = Field(description="Payments paid that day")
    paid_minor: int
    refunded_minor: int = Field(description="Handed back that day")
    currency: str = DEFAULT_CURRENCY


class CityDailyPaymentsRead(DailyPaymentsRead):
    company_id: int | None = Field(
        None, description="With by_company: the company managing the building that day"
    )
    company_name: str | None = None
