"""JSON routes of payments: pay by card, start a Payme or Click checkout, refunds, bank and
office payments (the Stripe webhook is `billing.payments.webhooks`).

A resident pays by card, or through Payme or Click, for an apartment they own or live in;
company managers and admins record bank or office payments, import bank statements and
refund. Without Stripe settings the card routes answer 503 with the reason, and without a
provider's settings so does its checkout; everything else works.
"""

import io
from typing import Annotated

from fastapi import APIRouter, Depends, File, Header, Request, UploadFile, status

from billing.invoices.queries import VisibleAccount
from billing.models import Gateway, PaymentAttempt
from billing.payments import checkouts, service
from billing.payments.gateway import PaymentGateway
from billing.payments.queries import VisiblePayment, visible_payments
from billing.payments.schemas import (
    CardConfirm,
    CardConfirmRead,
    CardPaymentCreate,
    CardPaymentRead,
    CheckoutCreate,
    CheckoutRead,
    ManualPaymentCreate,
    PaymentRead,
    RefundCreate,
    StatementReport,
)
from billing.payments.statement import import_bank_statement
from housing.accounts.models import Role
from housing.actors import Actor
from housing.auth import CurrentActor, RegistrarActor
from housing.csvfile import decode_upload
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Forbidden, Invalid, Unavailable
from housing.registry.queries import visible_apartments
from housing.routing import Paging, paginate
from housing.schemas import API_PROBLEMS, Page, problems
from housing.settings import Settings
from housing.validation import Text
from housing.web import request_language

MAX_STATEMENT_BYTES = 16 * 1024 * 1024

router = APIRouter(tags=["payments"], responses=API_PROBLEMS)


def _configured_gateway(request: Request) -> PaymentGateway | None:
    return request.app.state.payment_gateway


def _required_gateway(
    gateway: Annotated[PaymentGateway | None, Depends(_configured_gateway)],
) -> PaymentGateway:
    if gateway is None:
        raise Unavailable(
            "card payments are not available: Stripe is not configured on this server"
            " (HOUSING_STRIPE__SECRET_KEY); pay at a bank or an office"
        )
    return gateway


OptionalGateway = Annotated[PaymentGateway | None, Depends(_configured_gateway)]
GatewayDep = Annotated[PaymentGateway, Depends(_required_gateway)]


def checkout_link(
    request: Request, settings: Settings, actor: Actor, attempt: PaymentAttempt, account_number: str
) -> str:
    """The provider's checkout for `attempt` in the payer's language, coming back to the payment's page."""
    return checkouts.checkout_url(
        settings,
        attempt,
        account_number=account_number,
        return_url=str(request.url_for("payment_page", payment_id=attempt.id)),
        language=request_language(request, actor.language),
    )


@router.post(
    "/apartments/{apartment_id}/payments",
    response_model=CardPaymentRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(503, why={503: "Stripe is not configured, or did not answer"}),
)
def pay_by_card(
    body: CardPaymentCreate,
    session: SessionDep,
    actor: CurrentActor,
    gateway: GatewayDep,
    apartment: VisibleAccount,
    idempotency_key: Annotated[
        Text | None,
        Header(max_length=100, description="Send the same key again to get the same payment back"),
    ] = None,
):
    """Starts a card payment of up to the balance; confirm it with Stripe.js and the client_secret.

    The payment is saved with its idempotency key before Stripe is called; the webhook
    (or the reconciliation job) books it when Stripe says it succeeded.
    """
    if actor.role is not Role.resident:
        raise Forbidden("card payments are made by the residents; record a bank or office payment instead")
    attempt, _ = service.open_card_payment(
        session,
        apartment_id=apartment.id,
        amount_minor=body.amount_minor,
        user_id=actor.user_id,
        client_key=idempotency_key,
    )
    session.commit()  # the idempotency key is saved before Stripe hears of the payment
    if attempt.external_id is None:
        try:
            intent = service.send_card_payment(session, gateway, attempt)
        except Invalid:
            session.commit()  # the refusal is kept on the payment, for the payer to read
            raise
    else:
        intent = gateway.retrieve_intent(attempt.external_id)
    return CardPaymentRead.model_validate(attempt).model_copy(
        update={"client_secret": intent.client_secret, "publishable_key": gateway.publishable_key}
    )


@router.post(
    "/apartments/{apartment_id}/checkouts",
    response_model=CheckoutRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(503, why={503: "This provider (Payme or Click) is not configured on this server"}),
)
def start_checkout(
    body: CheckoutCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    apartment: VisibleAccount,
    idempotency_key: Annotated[
        Text | None,
        Header(max_length=100, description="Send the same key again to get the same payment back"),
    ] = None,
):
    """Starts a payment through Payme or Click: send the payer to `checkout_url`.

    Any amount within the provider's limits, also above the balance (the rest stays on the
    account as prepayment). The provider calls our merchant endpoints as the payer pays, and
    sends the payer back to the payment's page; read the outcome at GET /payments/{id}.
    """
    if actor.role is not Role.resident:
        raise Forbidden("online payments are made by the residents; record a bank or office payment instead")
    gateway = Gateway(body.gateway)
    attempt = checkouts.open_checkout(
        session,
        settings,
        gateway,
        apartment_id=apartment.id,
        amount_minor=body.amount_minor,
        user_id=actor.user_id,
        client_key=idempotency_key,
    )
    session.commit()  # the payment exists before the provider's first call looks for it
    link = checkout_link(request, settings, actor, attempt, apartment.account_number)
    return CheckoutRead(**PaymentRead.model_validate(attempt).model_dump(), checkout_url=link)


@router.post(
    "/payments/{payment_id}/card",
    response_model=CardConfirmRead,
    responses=problems(503, why={503: "Stripe is not configured, or did not answer"}),
)
def pay_with_card(
    body: CardConfirm,
    session: SessionDep,
    actor: CurrentActor,
    gateway: GatewayDep,
    attempt: VisiblePayment,
):
    """Charges the card entered in the browser; if the bank asks for 3-D Secure, `requires_action` says so.

    The flow the payment page uses with Stripe.js (or its local stand-in): make a card with
    Stripe.js, send its id here, and if `requires_action` call confirmCardPayment(client_secret).
    """
    if actor.user_id != attempt.created_by_id:
        raise Forbidden("only the resident who started this payment may pay it")
    try:
        intent = service.confirm_card_payment(
            session, gateway, attempt, payment_method_id=body.payment_method
        )
    except Invalid:
        session.commit()  # the refusal is kept on the payment, for the payer to read
        raise
    return CardConfirmRead(
        id=attempt.id,
        status=attempt.status,
        requires_action=intent.requires_action,
        client_secret=intent.client_secret if intent.requires_action else None,
        failure_message=attempt.failure_message,
    )


@router.get("/apartments/{apartment_id}/payments", response_model=Page[PaymentRead])
def list_payments(
    apartment: VisibleAccount, session: SessionDep, actor: CurrentActor, today: Today, paging: Paging
):
    """Newest first."""
    query = visible_payments(actor, today).where(PaymentAttempt.apartment_id == apartment.id)
    return paginate(session, query, paging, PaymentAttempt.id.desc())


@router.get("/payments/{payment_id}", response_model=PaymentRead)
def read_payment(attempt: VisiblePayment):
    return attempt


@router.post(
    "/apartments/{apartment_id}/payments/manual",
    response_model=PaymentRead,
    status_code=status.HTTP_201_CREATED,
)
def record_manual_payment(
    body: ManualPaymentCreate,
    session: SessionDep,
    actor: RegistrarActor,
    today: Today,
    apartment: VisibleAccount,
):
    """A payment made at a bank or an office, once per reference."""
    if body.paid_on > today:
        raise Invalid(f"{body.paid_on} is in the future", field="paid_on")
    return service.record_manual_payment(
        session,
        apartment_id=apartment.id,
        amount_minor=body.amount_minor,
        gateway=body.gateway,
        reference=body.reference,
        paid_at=service.noon_utc(body.paid_on),
        user_id=actor.user_id,
    )


@router.post(
    "/payments/{payment_id}/refunds", response_model=PaymentRead, status_code=status.HTTP_201_CREATED
)
def refund(
    body: RefundCreate,
    session: SessionDep,
    actor: RegistrarActor,
    attempt: VisiblePayment,
    gateway: OptionalGateway,
):
    """Hands back part or all of a payment, never more than is left of it."""
    return service.refund_payment(
        session,
        gateway,
        attempt=attempt,
        amount_minor=body.amount_minor,
        user_id=actor.user_id,
        reason=body.reason,
    )


@router.post(
    "/imports/bank-statements",
    response_model=StatementReport,
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        422, why={422: "The file has bad rows; `errors` lists each with its line; nothing booked"}
    ),
)
def import_statement(
    file: Annotated[UploadFile, File(description="CSV: date, account_number, amount, reference[, payer]")],
    session: SessionDep,
    actor: RegistrarActor,
    today: Today,
):
    """Books a bank statement's payments to the accounts you manage, all or nothing."""
    text = decode_upload(file.file.read(MAX_STATEMENT_BYTES + 1), MAX_STATEMENT_BYTES)
    result = import_bank_statement(
        session,
        io.StringIO(text, newline=""),
        apartments=visible_apartments(actor, today),
        user_id=actor.user_id,
        today=today,
    )
    return StatementReport(
        recorded=result.recorded, already_recorded=result.already_recorded, total_minor=result.total_minor
    )
