"""`PaymentGateway` on Stripe's PaymentIntents, through an injected `StripeClient` (no global key).

The client is built from `Settings.stripe` once per process. `api_base` points it at another
Stripe-compatible server (a local one in the tests). Errors are sorted into the two kinds
the verbs act on: a refusal (`GatewayError`, final) and an unknown outcome
(`GatewayUnavailable`, retried later with the same idempotency key).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import stripe

from billing.models import PaymentStatus
from billing.payments.gateway import BadSignature, GatewayError, GatewayEvent, GatewayUnavailable, Intent
from housing.settings import StripeSettings

# Stripe's PaymentIntent statuses in our forward-only vocabulary. requires_payment_method
# is "pending" on a fresh intent (the resident has not confirmed yet) and "failed" once a
# confirmation was declined (last_payment_error is set).
_STATUS = {
    "requires_payment_method": PaymentStatus.pending,
    "requires_confirmation": PaymentStatus.pending,
    "requires_action": PaymentStatus.pending,
    "processing": PaymentStatus.pending,
    "requires_capture": PaymentStatus.pending,
    "succeeded": PaymentStatus.succeeded,
    "canceled": PaymentStatus.canceled,
}
# Events that carry a PaymentIntent; the others are acknowledged and recorded only.
INTENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.canceled",
    }
)


class StripeGateway:
    def __init__(self, settings: StripeSettings) -> None:
        if not settings.configured or settings.secret_key is None:
            raise ValueError("Stripe is not configured: set HOUSING_STRIPE__SECRET_KEY")
        options: dict[str, Any] = {"max_network_retries": 2}
        if settings.api_base:
            options["base_addresses"] = {"api": settings.api_base}
        self.client = stripe.StripeClient(settings.secret_key.get_secret_value(), **options)
        self.publishable_key = settings.publishable_key
        self._webhook_secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None

    def create_intent(
        self, *, amount_minor: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Intent:
        with _sorted_errors():
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "metadata": metadata,
                    "payment_method_types": ["card"],
                },
                options={"idempotency_key": idempotency_key},
            )
        return intent_of(intent)

    def retrieve_intent(self, intent_id: str) -> Intent:
        with _sorted_errors():
            return intent_of(self.client.v1.payment_intents.retrieve(intent_id))

    def confirm_intent(self, intent_id: str, *, payment_method_id: str) -> Intent:
        # Two calls rather than confirm(payment_method=...): Stripe takes both, and
        # Stripe-compatible test servers (localstripe) take only this form.
        with _sorted_errors():
            self.client.v1.payment_intents.update(intent_id, params={"payment_method": payment_method_id})
            return intent_of(self.client.v1.payment_intents.confirm(intent_id))

    def cancel_intent(self, intent_id: str) -> Intent:
        with _sorted_errors():
            return intent_of(self.client.v1.payment_intents.cancel(intent_id))

    def refund(self, *, intent_id: str, amount_minor: int, idempotency_key: str) -> str:
        with _sorted_errors():
            refund = self.client.v1.refunds.create(
                params={"payment_intent": intent_id, "amount": amount_minor},
                options={"idempotency_key": idempotency_key},
            )
        return str(refund.id)

    def verify_event(self, payload: bytes, signature: str | None) -> GatewayEvent:
        if not self._webhook_secret:
            raise BadSignature(
                "no webhook secret is configured (HOUSING_STRIPE__WEBHOOK_SECRET)", reason="not configured"
            )
        try:
            event = self.client.construct_event(payload, signature, self._webhook_secret)
        except stripe.SignatureVerificationError as exc:
            message = str(exc) or "the signature does not match the body"
            raise BadSignature(message, reason=_refusal(message)) from exc
        except ValueError as exc:  # not UTF-8 or not JSON, though signed
            raise BadSignature(f"the body is not an event: {exc}", reason="malformed body") from exc
        try:
            return _event_of(event.to_dict())
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise BadSignature(f"the body is not an event: {exc!r}", reason="malformed body") from exc


def _event_of(event: dict[str, Any]) -> GatewayEvent:
    """The event in our vocabulary; KeyError, TypeError, ValueError... when a field is missing or wrong."""
    event_id, event_type = str(event["id"]), str(event["type"])
    created = datetime.fromtimestamp(int(event["created"]), UTC)
    obj = event["data"]["object"]
    if event_type in INTENT_EVENTS:
        return GatewayEvent(id=event_id, type=event_type, created=created, intent=intent_of(obj))
    if event_type == "charge.refunded" and obj.get("payment_intent"):
        return GatewayEvent(
            id=event_id,
            type=event_type,
            created=created,
            refunded_intent_id=str(obj["payment_intent"]),
            refunded_minor=int(obj.get("amount_refunded") or 0),
        )
    return GatewayEvent(id=event_id, type=event_type, created=created)


# Stripe's verification messages (stripe/_webhook.py) by the kind of refusal they mean.
_REFUSALS = (
    ("No Stripe-Signature header", "missing signature"),
    ("Unable to extract timestamp", "malformed signature"),
    ("No signatures found with expected scheme", "malformed signature"),
    ("Timestamp outside the tolerance zone", "stale"),
)


def _refusal(message: str) -> str:
    return next((reason for text, reason in _REFUSALS if text in message), "bad signature")


def intent_of(obj: Any) -> Intent:
    if isinstance(obj, stripe.StripeObject):
        obj = obj.to_dict()
    status = _STATUS.get(obj["status"], PaymentStatus.pending)
    error = obj.get("last_payment_error")
    failure = ""
    if error:
        failure = str(error.get("message") or error.get("code") or "the card was declined")
        if status is PaymentStatus.pending:
            status = PaymentStatus.failed
    return Intent(
        id=str(obj["id"]),
        status=status,
        amount_minor=int(obj["amount"]),
        currency=str(obj["currency"]).upper(),
        client_secret=obj.get("client_secret"),
        failure_message=failure,
        metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()},
        requires_action=obj["status"] == "requires_action",
    )


@contextmanager
def _sorted_errors() -> Iterator[None]:
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise GatewayUnavailable(exc.user_message or str(exc)) from exc
    except stripe.StripeError as exc:
        # Declines, bad parameters, a wrong key: asking again will not help.
        raise GatewayError(exc.user_message or str(exc), code=str(exc.code or "")) from exc
