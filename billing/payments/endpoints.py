"""JSON routes of payments: pay by card, the Stripe webhook, refunds, bank and office payments.

A resident pays by card for an apartment they own or live in; company managers and admins
record bank or office payments, import bank statements and refund. Without Stripe settings
the card routes answer 503 with the reason and everything else works.
"""

import io
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, File, Header, Request, UploadFile, status
from fastapi.responses import JSONResponse

from billing.models import PaymentAttempt
from billing.payments import service
from billing.payments.gateway import BadSignature, PaymentGateway
from billing.payments.schemas import (
    CardConfirm,
    CardConfirmRead,
    CardPaymentCreate,
    CardPaymentRead,
    ManualPaymentCreate,
    PaymentRead,
    RefundCreate,
    StatementReport,
    WebhookAck,
)
from billing.payments.statement import import_bank_statement
from billing.tariffs.queries import visible_payments
from housing.accounts.models import Role
from housing.auth import CurrentActor, RegistrarActor
from housing.csvfile import decode_upload
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import Forbidden, Invalid, Unavailable
from housing.registry.models import Apartment
from housing.registry.queries import visible_apartments
from housing.routing import Paging, one_visible, paginate
from housing.schemas import API_PROBLEMS, Page, problems
from housing.validation import Id, Text

MAX_STATEMENT_BYTES = 16 * 1024 * 1024
MAX_CLAIM_BYTES = 1024 * 1024  # a refused body larger than this is not parsed for the log

webhook_log = logging.getLogger("billing.payments.webhooks")

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


async def _raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature covers these bytes, not a re-encoded JSON."""
    return await request.body()


@router.post(
    "/apartments/{apartment_id}/payments",
    response_model=CardPaymentRead,
    status_code=status.HTTP_201_CREATED,
    responses=problems(503, why={503: "Stripe is not configured, or did not answer"}),
)
def pay_by_card(
    apartment_id: Id,
    body: CardPaymentCreate,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    gateway: GatewayDep,
    idempotency_key: Annotated[
        Text | None,
        Header(max_length=100, description="Send the same key again to get the same payment back"),
    ] = None,
):
    """Starts a card payment of up to the balance; confirm it with Stripe.js and the client_secret.

    The payment is saved with its idempotency key before Stripe is called; the webhook
    (or the reconciliation job) books it when Stripe says it succeeded.
    """
    one_visible(session, visible_apartments(actor, today), Apartment, apartment_id, "apartment")
    if actor.role is not Role.resident:
        raise Forbidden("card payments are made by the residents; record a bank or office payment instead")
    attempt, _ = service.open_card_payment(
        session,
        apartment_id=apartment_id,
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
    "/payments/{payment_id}/card",
    response_model=CardConfirmRead,
    responses=problems(503, why={503: "Stripe is not configured, or did not answer"}),
)
def pay_with_card(
    payment_id: Id,
    body: CardConfirm,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    gateway: GatewayDep,
):
    """Charges the card entered in the browser; if the bank asks for 3-D Secure, `requires_action` says so.

    The flow the payment page uses with Stripe.js (or its local stand-in): make a card with
    Stripe.js, send its id here, and if `requires_action` call confirmCardPayment(client_secret).
    """
    attempt = one_visible(session, visible_payments(actor, today), PaymentAttempt, payment_id, "payment")
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
def list_payments(apartment_id: Id, session: SessionDep, actor: CurrentActor, today: Today, paging: Paging):
    """Newest first."""
    one_visible(session, visible_apartments(actor, today), Apartment, apartment_id, "apartment")
    query = visible_payments(actor, today).where(PaymentAttempt.apartment_id == apartment_id)
    return paginate(session, query, paging, PaymentAttempt.id.desc())


@router.get("/payments/{payment_id}", response_model=PaymentRead)
def read_payment(payment_id: Id, session: SessionDep, actor: CurrentActor, today: Today):
    return one_visible(session, visible_payments(actor, today), PaymentAttempt, payment_id, "payment")


@router.post(
    "/apartments/{apartment_id}/payments/manual",
    response_model=PaymentRead,
    status_code=status.HTTP_201_CREATED,
)
def record_manual_payment(
    apartment_id: Id, body: ManualPaymentCreate, session: SessionDep, actor: RegistrarActor, today: Today
):
    """A payment made at a bank or an office, once per reference."""
    one_visible(session, visible_apartments(actor, today), Apartment, apartment_id, "apartment")
    if body.paid_on > today:
        raise Invalid(f"{body.paid_on} is in the future", field="paid_on")
    return service.record_manual_payment(
        session,
        apartment_id=apartment_id,
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
    payment_id: Id,
    body: RefundCreate,
    session: SessionDep,
    actor: RegistrarActor,
    today: Today,
    gateway: OptionalGateway,
):
    """Hands back part or all of a payment, never more than is left of it."""
    attempt = one_visible(session, visible_payments(actor, today), PaymentAttempt, payment_id, "payment")
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


@router.post(
    "/webhooks/stripe",
    response_model=WebhookAck,
    responses=problems(
        400, 503, why={400: "The signature does not match the body", 503: "Stripe is not configured"}
    ),
)
def stripe_webhook(
    session: SessionDep,
    gateway: GatewayDep,
    payload: Annotated[bytes, Depends(_raw_body)],
    stripe_signature: Annotated[Text | None, Header()] = None,
):
    """Stripe's events, verified on the raw body and handled once each (a repeat answers 200, duplicate).

    The same event delivered twice at once is also answered 200 twice and acts once. Each
    delivery leaves one log line (logger `billing.payments.webhooks`) with the event id, type
    and outcome: booked, duplicate, ignored (and why), refused (and why) or failed.
    """
    try:
        event = gateway.verify_event(payload, stripe_signature)
    except BadSignature as exc:
        claimed_id, claimed_type = _claimed(payload)
        _log_delivery(logging.WARNING, claimed_id, claimed_type, "refused", exc.reason, str(exc))
        return JSONResponse(
            {"type": "about:blank", "title": "Bad signature", "status": 400, "detail": str(exc)},
            status_code=400,
            media_type="application/problem+json",
        )
    try:
        outcome = service.handle_event(session, event)
        session.commit()  # booked only once it is committed, and logged so only then
    except Exception as exc:
        _log_delivery(logging.ERROR, event.id, event.type, "failed", type(exc).__name__, str(exc)[:300])
        raise
    _log_delivery(logging.INFO, event.id, event.type, outcome.outcome.value, outcome.reason, outcome.detail)
    return WebhookAck(duplicate=outcome.duplicate, detail=outcome.detail)


def _claimed(payload: bytes) -> tuple[str, str]:
    """The id and type a refused body claims, for the log only (never trusted): "" when it has none."""
    if len(payload) > MAX_CLAIM_BYTES:
        return "", ""
    try:
        body = json.loads(payload)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    found = body.get("id"), body.get("type")
    return tuple(value[:100] if isinstance(value, str) else "" for value in found)  # type: ignore[return-value]


def _log_delivery(level: int, event_id: str, event_type: str, outcome: str, reason: str, detail: str) -> None:
    """One line per delivery, key=value with JSON-quoted strings (so a hostile value stays on its line)."""
    fields = {
        "event_id": event_id,
        "type": event_type,
        "outcome": outcome,
        "reason": reason,
        "detail": detail,
    }
    webhook_log.log(
        level,
        "stripe webhook %s",
        " ".join(f"{key}={json.dumps(value)}" for key, value in fields.items()),
        extra={
            "event_id": event_id,
            "event_type": event_type,
            "outcome": outcome,
            "reason": reason,
            "detail": detail,
        },
    )
