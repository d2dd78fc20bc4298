"""A Stripe webhook handled once: the route, the signature check on the raw body, the inbox, the log line.

The event's id goes into a unique-keyed inbox (`webhook_event`) in the same transaction as
its effect, so a repeated or concurrent delivery acts once; a payment only moves forward
(`billing.models.PAYMENT_STEPS`), so a late event changes nothing. See docs/payments.md.
"""

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from billing.models import Gateway, PaymentAttempt, WebhookEvent
from billing.payments import service
from billing.payments.endpoints import GatewayDep
from billing.payments.gateway import BadSignature, GatewayEvent
from billing.payments.schemas import WebhookAck
from housing.db import SessionDep, is_postgres, utcnow
from housing.schemas import API_PROBLEMS, problems
from housing.validation import Text

STRIPE = "stripe"
MAX_CLAIM_BYTES = 1024 * 1024  # a refused body larger than this is not parsed for the log

log = logging.getLogger(__name__)  # "billing.payments.webhooks": one line per delivery

router = APIRouter(tags=["payments"], responses=API_PROBLEMS)


async def _raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature covers these bytes, not a re-encoded JSON."""
    return await request.body()


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
        outcome = handle_event(session, event)
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
    log.log(
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


class Outcome(StrEnum):
    """What a webhook delivery did, as the operator's log line says it."""

    booked = "booked"  # a payment moved forward or a refund was booked
    duplicate = "duplicate"  # the event id was already in the inbox: nothing done again
    ignored = "ignored"  # recorded in the inbox, nothing to change (see the reason)


@dataclass(frozen=True, slots=True)
class EventOutcome:
    outcome: Outcome
    detail: str
    reason: str = ""  # why an event was ignored: "unknown payment", "unchanged", "not handled"
    payment_id: int | None = None

    @property
    def duplicate(self) -> bool:
        return self.outcome is Outcome.duplicate


def handle_event(session: Session, event: GatewayEvent, *, provider: str = STRIPE) -> EventOutcome:
    """Applies a verified webhook event once: its id goes into the inbox in this same transaction.

    The inbox row is written first with INSERT ... ON CONFLICT DO NOTHING: when the same event
    arrives twice at once, PostgreSQL makes the second insert wait for the first transaction
    and then insert nothing, so the second delivery is a duplicate (not a unique-key error)
    and the effect happens once; if the first rolls back, the second does the work.
    """
    if not _into_inbox(session, provider, event):
        return EventOutcome(Outcome.duplicate, f"event {event.id} was already handled", "already handled")
    if event.intent is not None:
        attempt = _attempt_by_intent(session, event.intent.id)
        if attempt is None:
            return EventOutcome(
                Outcome.ignored,
                f"no payment of ours has intent {event.intent.id}; recorded only",
                "unknown payment",
            )
        moved = service.apply_intent(session, attempt, event.intent)
        if moved:
            return EventOutcome(
                Outcome.booked, f"payment {attempt.id} is {attempt.status}", payment_id=attempt.id
            )
        return EventOutcome(
            Outcome.ignored,
            f"payment {attempt.id} is {attempt.status} (unchanged)",
            "unchanged",
            payment_id=attempt.id,
        )
    if event.refunded_intent_id is not None:
        attempt = _attempt_by_intent(session, event.refunded_intent_id)
        if attempt is None:
            return EventOutcome(
                Outcome.ignored,
                f"no payment of ours has intent {event.refunded_intent_id}; recorded only",
                "unknown payment",
            )
        added = service.book_refund_upto(session, attempt, event.refunded_minor, user_id=None)
        detail = f"payment {attempt.id}: {added} tiyin more refunded"
        if added:
            return EventOutcome(Outcome.booked, detail, payment_id=attempt.id)
        return EventOutcome(Outcome.ignored, detail, "unchanged", payment_id=attempt.id)
    return EventOutcome(Outcome.ignored, f"{event.type} needs nothing from us; recorded", "not handled")


def _into_inbox(session: Session, provider: str, event: GatewayEvent) -> bool:
    """Inserts the event's id into the inbox unless it is there (or being put there); whether it was new."""
    now = utcnow()
    values = {
        "provider": provider,
        "event_id": event.id,
        "type": event.type[:100],
        "received_at": now,
        "processed_at": now,
        "created_at": now,
    }
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    statement = insert(WebhookEvent).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["provider", "event_id"])
    inserted = session.execute(statement.returning(WebhookEvent.__table__.c.id)).first()
    return inserted is not None


def _attempt_by_intent(session: Session, intent_id: str) -> PaymentAttempt | None:
    return session.exec(
        select(PaymentAttempt)
        .where(PaymentAttempt.gateway == Gateway.stripe, PaymentAttempt.external_id == intent_id)
        .with_for_update()
    ).first()
