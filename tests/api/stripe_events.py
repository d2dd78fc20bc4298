"""Stripe webhook deliveries signed locally as Stripe would sign them: an event and its delivery."""

import json
import time

from tests.integration.stripe_helpers import signature

URL = "/api/v1/webhooks/stripe"
TOTAL = 51_000_000


def event(event_id: str, intent_id: str = "pi_home", *, kind: str = "payment_intent.succeeded", **intent):
    obj = {
        "id": intent_id,
        "object": "payment_intent",
        "status": "succeeded" if kind == "payment_intent.succeeded" else "requires_payment_method",
        "amount": TOTAL,
        "currency": "uzs",
        "metadata": {},
    } | intent
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def deliver(client, body: dict | bytes, header: str | None = "sign"):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = (
        {} if header is None else {"Stripe-Signature": signature(payload) if header == "sign" else header}
    )
    return client.post(URL, content=payload, headers=headers)
