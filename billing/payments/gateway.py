"""What the payment verbs need from a card gateway, without naming Stripe.

`billing.payments.stripe_gateway` implements it with the Stripe library; tests point that
implementation at a local Stripe-compatible server. Keeping the verbs on this small
surface lets them run without the network and keeps `stripe` out of the services.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from billing.models import PaymentStatus

# Stripe takes at most 8 digits of minor units per charge: 999,999.99 UZS.
MAX_CHARGE_MINOR = 99_999_999


class GatewayError(Exception):
    """The gateway refused the request for good (a declined card, a bad parameter)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class GatewayUnavailable(Exception):
    """The gateway could not be reached or failed: the outcome is unknown, so retry with the same key."""


class BadSignature(Exception):
    """A webhook whose signature does not match its body, or is missing or too old.

    `reason` names the kind for the operator's log: "missing signature", "malformed
    signature", "bad signature" (no signature matches the body with our secret), "stale"
    (signed correctly, but longer ago than the gateway's tolerance), "malformed body" (not
    an event), "not configured" (no webhook secret on this server).
    """

    def __init__(self, message: str, *, reason: str = "bad signature") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Intent:
    """A payment as the gateway sees it."""

    id: str
    status: PaymentStatus  # mapped from the gateway's own vocabulary
    amount_minor: int
    currency: str
    client_secret: str | None = None
    failure_message: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    requires_action: bool = False  # the payer must authenticate (3-D Secure) in the browser


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """A verified webhook event: a payment's new state, or how much of it has been refunded."""

    id: str
    type: str
    created: datetime
    intent: Intent | None = None  # payment_intent.* events
    refunded_intent_id: str | None = None  # charge.refunded: the payment refunded
    refunded_minor: int = 0  # charge.refunded: the total refunded so far


class PaymentGateway(Protocol):
    publishable_key: str | None

    def create_intent(
        self, *, amount_minor: int, currency: str, idempotency_key: str, metadata: dict[str, str]
    ) -> Intent: ...

    def retrieve_intent(self, intent_id: str) -> Intent: ...

    def confirm_intent(self, intent_id: str, *, payment_method_id: str) -> Intent:
        """Charges the payer's card (made in the browser) for the intent; may ask for 3-D Secure."""
        ...

    def cancel_intent(self, intent_id: str) -> Intent: ...

    def refund(self, *, intent_id: str, amount_minor: int, idempotency_key: str) -> str:
        """Refunds part or all of a succeeded payment; the gateway's refund id."""
        ...

    def verify_event(self, payload: bytes, signature: str | None) -> GatewayEvent:
        """The event in a webhook body after checking its signature; BadSignature otherwise."""
        ...
