"""Payment reconciliation: card payments the webhooks left pending are fetched from Stripe again.

An attempt never sent (the process died, or Stripe did not answer) is sent again with its
saved idempotency key, which makes Stripe return the intent it may already have made. An
intent still waiting for the payer after `abandon_after_hours` is canceled, so the
resident's half-finished payment cannot be confirmed days later. One transaction per
attempt: one that fails is logged and retried on the next run.
"""

import logging
from contextlib import suppress
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from billing.models import Gateway, PaymentAttempt, PaymentStatus
from billing.payments.gateway import GatewayError, GatewayUnavailable, PaymentGateway
from billing.payments.service import apply_intent, send_card_payment
from billing.payments.stripe_gateway import StripeGateway
from housing.db import session_scope, utcnow
from housing.errors import DomainError, Invalid
from housing.settings import Settings

log = logging.getLogger(__name__)
OPEN = (PaymentStatus.created, PaymentStatus.pending)


def reconcile_payments(engine: Engine, settings: Settings, gateway: PaymentGateway | None = None) -> str:
    """Brings card payments pending longer than `reconcile_after_minutes` up to date; a summary line."""
    if gateway is None:
        if not settings.stripe.configured:
            return "reconcile payments: Stripe is not configured, nothing to do"
        gateway = StripeGateway(settings.stripe)
    now = utcnow()
    stale_before = now - timedelta(minutes=settings.stripe.reconcile_after_minutes)
    abandon_before = now - timedelta(hours=settings.stripe.abandon_after_hours)
    with session_scope(engine) as session:
        ids = list(
            session.exec(
                select(PaymentAttempt.id)
                .where(
                    PaymentAttempt.gateway == Gateway.stripe,
                    col(PaymentAttempt.status).in_(OPEN),
                    PaymentAttempt.updated_at < stale_before,
                )
                .order_by(PaymentAttempt.id)
            )
        )
    moved = canceled = errors = 0
    for attempt_id in ids:
        try:
            with session_scope(engine) as session:
                attempt = session.get(PaymentAttempt, attempt_id, with_for_update=True)
                if attempt is None or attempt.status not in OPEN:
                    continue
                before = attempt.status
                if attempt.external_id is None:
                    # Refused for good: the attempt is now failed, and that is kept (committed).
                    with suppress(Invalid):
                        send_card_payment(session, gateway, attempt)
                else:
                    intent = gateway.retrieve_intent(attempt.external_id)
                    apply_intent(session, attempt, intent)
                    if attempt.status in OPEN and attempt.created_at < abandon_before:
                        apply_intent(session, attempt, gateway.cancel_intent(attempt.external_id))
                        canceled += attempt.status == PaymentStatus.canceled
                if attempt.status != before:
                    moved += 1
                attempt.updated_at = utcnow()  # checked again after another interval, not every run
                session.add(attempt)
        except (DomainError, GatewayError, GatewayUnavailable) as exc:  # expected: Stripe said no, or nothing
            errors += 1
            log.warning("reconciling payment %s failed: %s", attempt_id, exc)
        except Exception:  # anything else: that payment rolled back, the others go on
            errors += 1
            log.exception("reconciling payment %s failed", attempt_id)
    return (
        f"reconcile payments: {len(ids)} pending checked, {moved} moved on ({canceled} abandoned and canceled),"
        f" {errors} to retry"
    )
