"""API models of payments: XCreate, XRead. Money is tiyin (`*_minor`) beside its currency code."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from billing.models import Gateway, PaymentStatus
from billing.payments.gateway import MAX_CHARGE_MINOR
from housing.schemas import ReadModel
from housing.validation import Day, InputModel, Money, PositiveMoney


class CardPaymentCreate(InputModel):
    amount_minor: Money = Field(
        description=f"Tiyin, more than 0 and at most the balance and {MAX_CHARGE_MINOR:,} (Stripe's limit per charge)"
    )


class PaymentRead(ReadModel):
    id: int
    apartment_id: int
    invoice_id: int | None
    gateway: Gateway
    amount_minor: int
    refunded_minor: int
    currency: str
    status: PaymentStatus
    external_id: str | None
    failure_message: str
    created_at: datetime
    updated_at: datetime


class CardPaymentRead(PaymentRead):
    client_secret: str | None = Field(
        None, description="For Stripe.js confirmCardPayment; keep it out of logs"
    )
    publishable_key: str | None = None


class CheckoutGateway(StrEnum):
    """The providers whose checkout the payer is sent to (they then call our merchant endpoints)."""

    payme = "payme"
    click = "click"


class CheckoutCreate(InputModel):
    gateway: CheckoutGateway
    amount_minor: PositiveMoney = Field(
        description="Tiyin, within the provider's limits (HOUSING_PAYME__MIN_AMOUNT_MINOR and so on);"
        " more than the balance is taken as prepayment"
    )


class CheckoutRead(PaymentRead):
    checkout_url: str = Field(
        description="The provider's checkout for this payment: send the payer there; it sends them back to"
        " the payment's page"
    )


class CardConfirm(InputModel):
    payment_method: str = Field(
        min_length=3,
        max_length=100,
        pattern=r"^(pm|card)_[A-Za-z0-9_]+$",
        description="The card Stripe.js made in the browser (a PaymentMethod id, or a token's card id)",
    )


class CardConfirmRead(BaseModel):
    id: int
    status: PaymentStatus
    requires_action: bool = Field(description="Finish with Stripe.js confirmCardPayment(client_secret)")
    client_secret: str | None
    failure_message: str


class ManualPaymentCreate(InputModel):
    amount_minor: PositiveMoney
    gateway: Gateway = Field(description="bank or office")
    reference: str = Field(min_length=1, max_length=200, description="The bank reference or receipt number")
    paid_on: Day


class RefundCreate(InputModel):
    amount_minor: PositiveMoney = Field(description="At most what is left of the payment")
    reason: str = Field(min_length=3, max_length=200)


class WebhookAck(BaseModel):
    received: bool = True
    duplicate: bool
    detail: str


class StatementReport(BaseModel):
    recorded: int
    already_recorded: int
    total_minor: int
