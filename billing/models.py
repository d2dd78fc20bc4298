"""Billing tables: services and tariffs, invoices and their lines, the ledger, payments and
the webhook inbox. Money is integer tiyin in `*_minor` BIGINT columns beside a `currency`;
periods are half-open (valid_from inclusive, valid_until exclusive); lines, ledger entries
and webhook events are append-only. The rules behind them are in docs/tariffs.md.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import CHAR, JSON, BigInteger, CheckConstraint, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from billing.tariffs.pricing import Basis
from housing.db import UTCDateTime, created_at_field, updated_at_field
from housing.incidents.models import Utility
from sensors.models import MeterKind

DEFAULT_CURRENCY = "UZS"


def currency_field() -> Any:
    return Field(default=DEFAULT_CURRENCY, min_length=3, max_length=3, sa_type=CHAR(3))


class Service(SQLModel, table=True):
    """A billed utility or fee: electricity, gas, cold_water, hot_water, heating, waste, management."""

    __tablename__ = "service"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True)
    name: str = Field(max_length=100)
    unit: str = Field(max_length=10, description="What one unit of quantity is: kWh, m3, Gcal, m2, person")
    meter_kind: MeterKind | None = Field(
        default=None, sa_type=String(20), description="The meters whose consumption this service bills"
    )
    utility: Utility | None = Field(
        default=None,
        sa_type=String(20),
        description="The service incidents that reduce this service's charge",
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Tariff(SQLModel, table=True):
    __tablename__ = "tariff"
    __table_args__ = (
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="valid_period"),
        Index(None, "service_id", "company_id", "valid_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id")
    company_id: int | None = Field(
        default=None,
        foreign_key="management_company.id",
        index=True,
        description="A company's own tariff (e.g. its management fee); NULL for the city-wide one",
    )
    basis: Basis = Field(sa_type=String(20))
    valid_from: date
    valid_until: date | None = None
    currency: str = currency_field()
    note: str = Field(default="", max_length=300, description="The decision it comes from, or assumptions")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class TariffTier(SQLModel, table=True):
    """Units of a month up to `up_to` (NULL: no bound; the last tier) at `price_minor` tiyin each.

    Bounds are monthly quantities and rise with `position` (1, 2, ...); each tier prices only
    the units inside it. A per_m2, per_person or fixed tariff has one open-ended tier.
    """

    __tablename__ = "tariff_tier"
    __table_args__ = (
        UniqueConstraint("tariff_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("up_to IS NULL OR up_to > 0", name="up_to_positive"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tariff_id: int = Field(foreign_key="tariff.id")
    position: int
    up_to: Decimal | None = Field(default=None, max_digits=14, decimal_places=3)
    price_minor: Decimal = Field(max_digits=18, decimal_places=4, description="Tiyin per unit")
    created_at: datetime = created_at_field()


class SeasonalNorm(SQLModel, table=True):
    """The first tier's bound in some calendar months (gas: 500 m3 in months "11,12,1,2")."""

    __tablename__ = "seasonal_norm"
    __table_args__ = (CheckConstraint("up_to > 0", name="up_to_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    tariff_id: int = Field(foreign_key="tariff.id", index=True)
    months: str = Field(max_length=40, description='Calendar months 1-12, comma-separated: "3,4,5"')
    up_to: Decimal = Field(max_digits=14, decimal_places=3)
    created_at: datetime = created_at_field()


class InvoiceStatus(StrEnum):
    draft = "draft"
    issued = "issued"
    partially_paid = "partially_paid"
    paid = "paid"
    void = "void"


class Invoice(SQLModel, table=True):
    """A personal account's bill for one month: at most one per apartment and period.

    `period` is the month's first day. `number` is "{year}-{sequence:06d}", numbered per
    company and year. The total is the sum of the lines' amounts less their deductions.
    """

    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("apartment_id", "period"),
        UniqueConstraint("company_id", "year", "sequence"),
        UniqueConstraint("company_id", "number"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        Index(None, "company_id", "period"),
        Index(None, "due_date", "status"),  # the daily payment reminders look invoices up by due day
    )

    id: int | None = Field(default=None, primary_key=True)
    apartment_id: int = Field(foreign_key="apartment.id")
    company_id: int = Field(foreign_key="management_company.id")
    period: date
    year: int
    sequence: int
    number: str = Field(max_length=20)
    status: InvoiceStatus = Field(default=InvoiceStatus.draft, sa_type=String(20))
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_date: date
    total_minor: int = Field(default=0, sa_type=BigInteger)
    currency: str = currency_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class QuantitySource(StrEnum):
    metered = "metered"  # readings at the period's ends (a manual meter: this month's and the last)
    # from the readings, but an end extended from one side or interpolated across a long
    # silence; the line's explanation says by how many hours ("estimated_hours")
    metered_estimated = "metered_estimated"
    average = "average"  # the meter's average month, for a period without readings
    norm = "norm"  # the norm per registered resident
    shared = "shared"  # the apartment's share by area of a building meter's consumption
    # settles earlier months billed by the average or the norm once the meter reads again;
    # the explanation names the months ("months") and what each was billed and comes to
    recalculation = "recalculation"
    area = "area"  # the apartment's m2
    residents = "residents"  # registered residents
    fixed = "fixed"  # one per month


class InvoiceLine(SQLModel, table=True):
    """One service on an invoice, in the invoice's currency; never edited.

    A later correction is a new line whose `corrects_line_id` names the line it adjusts.
    `explanation` holds how the amount was reached (tiers and parts from pricing, the
    readings used). The line's net charge is amount_minor - deduction_minor.
    """

    __tablename__ = "invoice_line"
    __table_args__ = (CheckConstraint("deduction_minor >= 0", name="deduction_not_negative"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    service_id: int = Field(foreign_key="service.id")
    tariff_id: int | None = Field(default=None, foreign_key="tariff.id", index=True)
    basis: Basis = Field(sa_type=String(20))
    quantity: Decimal = Field(max_digits=14, decimal_places=3)
    quantity_source: QuantitySource = Field(sa_type=String(20))
    explanation: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    amount_minor: int = Field(sa_type=BigInteger)
    deduction_minor: int = Field(default=0, sa_type=BigInteger)
    deduction_reason: str = Field(default="", max_length=500)
    corrects_line_id: int | None = Field(default=None, foreign_key="invoice_line.id")
    created_at: datetime = created_at_field()


class LedgerKind(StrEnum):
    charge = "charge"
    payment = "payment"
    penalty = "penalty"
    adjustment = "adjustment"
    refund = "refund"


class LedgerEntry(SQLModel, table=True):
    """One movement on a personal account; immutable, so a mistake is undone by an adjustment.

    Signs: positive raises what the account owes, negative lowers it. Charges, penalties
    and refunds (money handed back to the payer) are positive; payments are negative;
    adjustments are either. The balance (debt) is the sum. `dedupe_key` makes a job's
    effect happen once, e.g. "penalty:{apartment_id}:{date}" or "payment:{attempt_id}".
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint(
            "(kind IN ('charge', 'penalty', 'refund') AND amount_minor > 0)"
            " OR (kind = 'payment' AND amount_minor < 0)"
            " OR (kind = 'adjustment' AND amount_minor <> 0)",
            name="amount_sign_by_kind",
        ),
        Index(None, "apartment_id", "occurred_at"),
        # The nightly reconciliation and the payments per day find a day's payments by kind and time.
        Index(None, "kind", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    apartment_id: int = Field(foreign_key="apartment.id")
    kind: LedgerKind = Field(sa_type=String(20))
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = currency_field()
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    # Indexed: corrections look up a line's adjustments, and deleting lines checks this key.
    invoice_line_id: int | None = Field(default=None, foreign_key="invoice_line.id", index=True)
    payment_attempt_id: int | None = Field(default=None, foreign_key="payment_attempt.id", index=True)
    reference: str = Field(default="", max_length=200, description="A bank reference, a receipt number")
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class Gateway(StrEnum):
    stripe = "stripe"  # cards, through Stripe's API and webhooks
    payme = "payme"  # Payme calls our Merchant API (JSON-RPC)
    click = "click"  # Click calls our SHOP-API (Prepare, Complete)
    bank = "bank"
    office = "office"


MERCHANT_GATEWAYS = (Gateway.payme, Gateway.click)
"""The providers that call us: a transaction is opened, then performed or cancelled, by their calls."""


class PaymentStatus(StrEnum):
    """Forward only: created -> pending -> succeeded -> refunded, or created/pending -> failed/canceled.

    A late or repeated webhook never moves a payment back (a succeeded one never becomes
    pending again); `PAYMENT_STEPS` lists where each status may go. A failed card payment
    may still succeed: Stripe lets the payer confirm the same intent again with another card.
    """

    created = "created"
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    refunded = "refunded"


PAYMENT_STEPS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.created: frozenset(
        {PaymentStatus.pending, PaymentStatus.succeeded, PaymentStatus.failed, PaymentStatus.canceled}
    ),
    PaymentStatus.pending: frozenset({PaymentStatus.succeeded, PaymentStatus.failed, PaymentStatus.canceled}),
    PaymentStatus.succeeded: frozenset({PaymentStatus.refunded}),
    PaymentStatus.failed: frozenset({PaymentStatus.succeeded, PaymentStatus.canceled}),
    PaymentStatus.canceled: frozenset(),
    PaymentStatus.refunded: frozenset(),
}


class PaymentAttempt(SQLModel, table=True):
    """One try to pay through a gateway; its idempotency key is saved before the gateway is called."""

    __tablename__ = "payment_attempt"
    __table_args__ = (
        UniqueConstraint("gateway", "external_id"),
        UniqueConstraint("created_by_id", "client_key"),
        # Payme's GetStatement and the daily reconciliation read a gateway's transactions by time.
        Index(None, "gateway", "provider_time"),
        Index(None, "gateway", "performed_at"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_within_amount"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    apartment_id: int = Field(foreign_key="apartment.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    gateway: Gateway = Field(sa_type=String(10))
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = currency_field()
    status: PaymentStatus = Field(default=PaymentStatus.created, sa_type=String(20))
    idempotency_key: str = Field(max_length=200, unique=True, description="e.g. invoice:{id}:attempt:{n}")
    external_id: str | None = Field(
        default=None, max_length=200, description="The gateway's id, e.g. a Stripe PaymentIntent id"
    )
    failure_message: str = Field(default="", max_length=500)
    refunded_minor: int = Field(default=0, sa_type=BigInteger, description="Handed back so far")
    client_key: str | None = Field(
        default=None,
        max_length=100,
        description="The payer's Idempotency-Key: a second submit with it returns this attempt",
    )
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    # A provider's transaction (Payme, Click): when the provider says it made it, and when we
    # opened, performed and cancelled it. Repeated calls answer these same moments.
    provider_time: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="The provider's own time of the transaction"
    )
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    performed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    canceled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: int | None = Field(default=None, description="The provider's reason code for a cancel")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class WebhookEvent(SQLModel, table=True):
    """The inbox: an event id is inserted in the same transaction as its effect, so it acts once."""

    __tablename__ = "webhook_event"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)
    event_id: str = Field(max_length=200)
    type: str = Field(max_length=100)
    received_at: datetime = Field(sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class StatementState(StrEnum):
    """A transaction's end as a provider's statement file states it."""

    performed = "performed"
    cancelled = "cancelled"  # cancelled before it was performed: no money moved
    refunded = "refunded"  # performed, then cancelled: the money went back


class ProviderStatementLine(SQLModel, table=True):
    """One transaction of a provider's statement file (its registry of the day), as imported.

    Kept apart from our payments: reconciliation compares the two and never books from here.
    """

    __tablename__ = "provider_statement_line"
    __table_args__ = (
        UniqueConstraint("gateway", "external_id"),
        Index(None, "gateway", "day"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    gateway: Gateway = Field(sa_type=String(10))
    external_id: str = Field(max_length=200, description="The provider's transaction id")
    day: date = Field(description="The city's day the provider performed (or cancelled) it")
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    amount_minor: int = Field(sa_type=BigInteger)
    account_number: str = Field(max_length=40)
    state: StatementState = Field(sa_type=String(20))
    imported_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()


class ReconciliationRun(SQLModel, table=True):
    """The last reconciliation of one gateway's day: what it counted and how many differences."""

    __tablename__ = "reconciliation_run"
    __table_args__ = (UniqueConstraint("gateway", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    gateway: Gateway = Field(sa_type=String(10))
    day: date
    ran_at: datetime = Field(sa_type=UTCDateTime)
    payments: int = Field(default=0, description="Our payments performed that day")
    paid_minor: int = Field(default=0, sa_type=BigInteger)
    refunded_minor: int = Field(default=0, sa_type=BigInteger)
    statement_lines: int | None = Field(
        default=None, description="Lines of the provider's statement for the day; None when none imported"
    )
    differences: int = 0


class ReconciliationDifference(SQLModel, table=True):
    """One thing that does not agree, found by the reconciliation of a gateway's day.

    A rerun of the day replaces the day's differences, so what is listed is what is still wrong.
    """

    __tablename__ = "reconciliation_difference"
    __table_args__ = (Index(None, "gateway", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    gateway: Gateway = Field(sa_type=String(10))
    day: date
    kind: str = Field(max_length=40, description="What disagrees, e.g. missing_in_statement")
    external_id: str | None = Field(default=None, max_length=200)
    payment_attempt_id: int | None = Field(default=None, foreign_key="payment_attempt.id", index=True)
    apartment_id: int | None = Field(default=None, foreign_key="apartment.id", index=True)
    ours_minor: int | None = Field(default=None, sa_type=BigInteger)
    theirs_minor: int | None = Field(default=None, sa_type=BigInteger)
    detail: str = Field(default="", max_length=500)
    created_at: datetime = created_at_field()


class PlanStatus(StrEnum):
    active = "active"  # agreed and kept so far: the covered invoices accrue no penalty
    kept = "kept"  # every instalment paid by its date
    missed = "missed"  # an instalment was not paid by its date: penalties resume the next day
    cancelled = "cancelled"  # ended by staff


class InstalmentPlan(SQLModel, table=True):
    """A schedule staff agreed with a debtor for the debt of some invoices (`InstalmentPlanInvoice`).

    While it is kept the covered invoices accrue no penalty. Whether it is kept on a day follows
    from its instalments and the payments made since `agreed_on` (`billing.ledger.plans`), so
    penalties do not depend on when the plan's job ran; the job records the outcome here.
    """

    __tablename__ = "instalment_plan"
    __table_args__ = (
        CheckConstraint("covered_minor > 0", name="covered_positive"),
        Index(None, "apartment_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    apartment_id: int = Field(foreign_key="apartment.id")
    status: PlanStatus = Field(default=PlanStatus.active, sa_type=String(12))
    agreed_on: date
    covered_minor: int = Field(
        sa_type=BigInteger, description="The debt it covers; the instalments add up to it"
    )
    currency: str = currency_field()
    note: str = Field(default="", max_length=500)
    ended_on: date | None = Field(default=None, description="The first day it no longer held")
    agreed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class InstalmentPlanInvoice(SQLModel, table=True):
    __tablename__ = "instalment_plan_invoice"

    plan_id: int = Field(foreign_key="instalment_plan.id", primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", primary_key=True, index=True)


class Instalment(SQLModel, table=True):
    __tablename__ = "instalment"
    __table_args__ = (
        UniqueConstraint("plan_id", "position"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="instalment_plan.id", index=True)
    position: int
    due_on: date
    amount_minor: int = Field(sa_type=BigInteger)
