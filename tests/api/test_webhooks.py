"""The Stripe webhook's outcomes as the operator sees them: the answer and one log line per delivery.

The app has a webhook secret and a Stripe address where nothing listens: verifying an event
needs no network, so every delivery here is signed (or forged) locally, as Stripe would.
"""

import json
import logging
import re
import time

import pytest
from sqlmodel import func, select

from billing.ledger.service import balance
from billing.models import LedgerEntry, LedgerKind, WebhookEvent
from tests.api.stripe_events import TOTAL, URL, deliver, event
from tests.faults import allow_inserts, refuse_inserts
from tests.integration.stripe_helpers import signature

LOGGER = "billing.payments.webhooks"


def lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def only_line(caplog) -> logging.LogRecord:
    (record,) = lines(caplog)
    return record


def fields(record: logging.LogRecord) -> tuple[str, str, str, str]:
    return record.event_id, record.event_type, record.outcome, record.reason


def test_a_payment_booked_by_its_event_is_logged_as_booked(stripe_client, session, pending, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    answer = deliver(stripe_client, event("evt_paid"))

    assert answer.status_code == 200 and answer.json()["duplicate"] is False
    record = only_line(caplog)
    assert fields(record) == ("evt_paid", "payment_intent.succeeded", "booked", "")
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith(
        'stripe webhook event_id="evt_paid" type="payment_intent.succeeded" outcome="booked"'
    )
    assert f"payment {pending.id} is succeeded" in message
    assert balance(session, pending.apartment_id) == 0


def test_a_repeated_event_is_logged_as_duplicate_and_acts_once(stripe_client, session, pending, caplog):
    deliver(stripe_client, event("evt_paid"))
    caplog.set_level(logging.INFO, logger=LOGGER)

    again = deliver(stripe_client, event("evt_paid"))

    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert fields(only_line(caplog)) == (
        "evt_paid",
        "payment_intent.succeeded",
        "duplicate",
        "already handled",
    )
    count = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == LedgerKind.payment)
    assert session.exec(count).one() == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (event("evt_stranger", "pi_not_ours"), "unknown payment"),
        (
            {
                "id": "evt_customer",
                "object": "event",
                "type": "customer.created",
                "created": 1,
                "data": {"object": {"id": "cus_1"}},
            },
            "not handled",
        ),
    ],
    ids=["unknown payment", "type we do not act on"],
)
def test_events_that_change_nothing_are_logged_as_ignored_with_why(
    stripe_client, session, pending, caplog, body, reason
):
    caplog.set_level(logging.INFO, logger=LOGGER)

    answer = deliver(stripe_client, body)

    assert answer.status_code == 200 and answer.json()["duplicate"] is False
    record = only_line(caplog)
    assert fields(record) == (body["id"], body["type"], "ignored", reason)
    assert session.exec(select(WebhookEvent.event_id)).all() == [body["id"]]  # recorded all the same
    assert balance(session, pending.apartment_id) == TOTAL


def test_a_late_failure_after_success_is_logged_as_ignored_unchanged(stripe_client, session, pending, caplog):
    deliver(stripe_client, event("evt_paid"))
    caplog.set_level(logging.INFO, logger=LOGGER)

    late = deliver(
        stripe_client,
        event(
            "evt_declined", kind="payment_intent.payment_failed", last_payment_error={"message": "declined"}
        ),
    )

    assert late.status_code == 200
    assert fields(only_line(caplog)) == (
        "evt_declined",
        "payment_intent.payment_failed",
        "ignored",
        "unchanged",
    )
    assert balance(session, pending.apartment_id) == 0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: (p, signature(p, "whsec_forged")), "bad signature"),
        (
            lambda p: (p.replace(b"51000000", b"510000000"), signature(p)),
            "bad signature",
        ),  # tampered after signing
        (lambda p: (p, signature(p, at=int(time.time()) - 3600)), "stale"),
        (lambda p: (p, None), "missing signature"),
        (lambda p: (p, "v1=deadbeef"), "malformed signature"),
        (lambda p: (p, f"t={int(time.time())},v0=00"), "malformed signature"),
        (lambda p: (b"not json at all", signature(b"not json at all")), "malformed body"),
        (
            lambda p: (b'{"id": "evt_x"}', signature(b'{"id": "evt_x"}')),
            "malformed body",
        ),  # signed, not an event
        (lambda p: (b"\xff\xfe", signature(b"\xff\xfe")), "malformed body"),
    ],
    ids=[
        "forged",
        "tampered",
        "stale",
        "missing",
        "no timestamp",
        "wrong scheme",
        "not json",
        "no fields",
        "not utf-8",
    ],
)
def test_a_refused_delivery_is_logged_with_why_and_changes_nothing(
    stripe_client, session, pending, caplog, make, reason
):
    payload, header = make(json.dumps(event("evt_paid")).encode())
    caplog.set_level(logging.INFO, logger=LOGGER)

    answer = stripe_client.post(URL, content=payload, headers={"Stripe-Signature": header} if header else {})

    assert answer.status_code == 400 and answer.headers["content-type"] == "application/problem+json"
    record = only_line(caplog)
    assert (record.outcome, record.reason, record.levelno) == ("refused", reason, logging.WARNING)
    if payload.startswith(b'{"id": "evt_paid"'):
        assert (record.event_id, record.event_type) == ("evt_paid", "payment_intent.succeeded")  # as claimed
    assert session.exec(select(WebhookEvent)).all() == []
    assert balance(session, pending.apartment_id) == TOTAL


def test_a_refused_body_cannot_forge_log_lines(stripe_client, caplog):
    body = {
        "id": 'evt_1"\n2026-12-01 INFO billing.payments.webhooks outcome="booked"\x1b[2J',
        "type": "x" * 5000,
    }
    payload = json.dumps(body).encode()
    caplog.set_level(logging.INFO, logger=LOGGER)

    answer = stripe_client.post(
        URL, content=payload, headers={"Stripe-Signature": signature(payload, "whsec_no")}
    )

    assert answer.status_code == 400
    message = only_line(caplog).getMessage()
    assert "\n" not in message and "\x1b" not in message
    parsed = logfmt(message.removeprefix("stripe webhook "))
    assert parsed["outcome"] == "refused" and parsed["event_id"] == body["id"]  # quoted, so not forged
    assert parsed["type"] == "x" * 100  # the claimed type is cut short


def logfmt(text_: str) -> dict[str, str]:
    """key="json string" pairs, as a log shipper would read the line."""
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*")(?: |$)', text_)
    assert " ".join(f"{k}={v}" for k, v in pairs) == text_  # nothing else on the line
    return {key: json.loads(value) for key, value in pairs}


def test_a_delivery_whose_booking_fails_is_logged_as_failed_and_not_acknowledged(
    stripe_client, session, pending, db, caplog
):
    refuse_inserts(db, "ledger_entry")
    caplog.set_level(logging.INFO, logger=LOGGER)
    try:
        answer = deliver(stripe_client, event("evt_paid"))
    finally:
        allow_inserts(db, "ledger_entry")

    assert answer.status_code >= 400  # Stripe delivers it again later
    record = only_line(caplog)
    assert (record.event_id, record.outcome, record.levelno) == ("evt_paid", "failed", logging.ERROR)
    assert session.exec(select(WebhookEvent)).all() == []  # rolled back with the effect: the retry will act
    retried = deliver(stripe_client, event("evt_paid"))
    assert retried.status_code == 200 and retried.json()["duplicate"] is False
    assert balance(session, pending.apartment_id) == 0
