"""Card payments against a local Stripe-compatible server, with its real webhooks.

localstripe runs on a free loopback port; the real `stripe` library talks to it through
`HOUSING_STRIPE__API_BASE`, and it posts signed webhooks to our app served on another port.
"""

import json
import time
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from billing.ledger.service import balance
from billing.models import Invoice, InvoiceStatus, LedgerEntry, LedgerKind, PaymentAttempt, WebhookEvent
from billing.payments import jobs
from housing.app import create_app
from tests.conftest import make_settings
from tests.factories.billing import make_billed_invoice
from tests.integration.stripe_helpers import (
    DECLINED_CARD,
    GOOD_CARD,
    PUBLISHABLE_KEY,
    events_of,
    pay_with_card,
    register_webhook,
    serving_for_stripe,
    signature,
    stripe_group,
)

TOTAL = 51_000_000  # 510,000.00 UZS


def settings_for(database_url, localstripe, **stripe):
    return make_settings(database_url, stripe=stripe_group(localstripe, **stripe))


@pytest.fixture
def stripe_settings(database_url, localstripe):
    return settings_for(database_url, localstripe)


@pytest.fixture
def live(stripe_settings, db, localstripe):
    """Our app served for real, with localstripe's webhooks pointed at it."""
    app = create_app(stripe_settings, engine=db)
    with serving_for_stripe(app, localstripe), TestClient(app) as client:
        yield client


@pytest.fixture
def billed(session: Session, city):
    invoice = make_billed_invoice(session, city.home, TOTAL, period=date(2026, 10, 1))
    session.commit()
    return invoice


def wait_until(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError("the condition did not hold in time")


def start_payment(client, city, amount=TOTAL, key=None):
    headers = city.headers["resident"] | ({"Idempotency-Key": key} if key else {})
    return client.post(
        f"/api/v1/apartments/{city.home.id}/payments", json={"amount_minor": amount}, headers=headers
    )


def attempt_status(db, attempt_id) -> str:
    with Session(db) as session:
        return session.get(PaymentAttempt, attempt_id).status


def test_a_card_payment_confirmed_at_stripe_marks_the_invoice_paid(live, city, billed, db, localstripe):
    started = start_payment(live, city)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["status"] == "pending" and body["client_secret"].startswith(body["external_id"])
    assert body["publishable_key"] == PUBLISHABLE_KEY

    pay_with_card(localstripe, body["external_id"], GOOD_CARD)

    wait_until(lambda: attempt_status(db, body["id"]) == "succeeded")
    with Session(db) as session:
        assert session.get(Invoice, billed.id).status == InvoiceStatus.paid
        assert balance(session, city.home.id) == 0
        payments = session.exec(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.payment)).all()
        assert [p.amount_minor for p in payments] == [-TOTAL]
    seen = live.get(f"/api/v1/payments/{body['id']}", headers=city.headers["resident"]).json()
    assert seen["status"] == "succeeded"


def test_a_declined_card_leaves_the_account_unchanged_with_a_clear_message(
    live, city, billed, db, localstripe
):
    body = start_payment(live, city).json()

    with pytest.raises(Exception, match="declined"):
        pay_with_card(localstripe, body["external_id"], DECLINED_CARD)

    wait_until(lambda: attempt_status(db, body["id"]) == "failed")
    seen = live.get(f"/api/v1/payments/{body['id']}", headers=city.headers["resident"]).json()
    assert "declined" in seen["failure_message"]
    with Session(db) as session:
        assert balance(session, city.home.id) == TOTAL
        assert session.get(Invoice, billed.id).status == InvoiceStatus.issued


def test_the_same_webhook_twice_has_one_effect(live, city, billed, db, localstripe):
    body = start_payment(live, city).json()
    pay_with_card(localstripe, body["external_id"], GOOD_CARD)
    wait_until(lambda: attempt_status(db, body["id"]) == "succeeded")
    succeeded = [
        e for e in events_of(localstripe, body["external_id"]) if e["type"] == "payment_intent.succeeded"
    ]
    payload = json.dumps(succeeded[0]).encode()

    again = live.post(
        "/api/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature(payload)}
    )

    assert again.status_code == 200 and again.json()["duplicate"] is True
    with Session(db) as session:
        assert balance(session, city.home.id) == 0
        count = session.exec(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "payment")
        ).one()
        assert count == 1


def test_a_forged_or_tampered_webhook_is_refused_and_changes_nothing(live, city, billed, db, localstripe):
    body = start_payment(live, city).json()
    register_webhook(localstripe, "http://127.0.0.1:9/nowhere")  # keep the real event from arriving
    pay_with_card(localstripe, body["external_id"], GOOD_CARD)
    event = wait_until(
        lambda: [
            e for e in events_of(localstripe, body["external_id"]) if e["type"] == "payment_intent.succeeded"
        ]
    )[0]
    genuine = json.dumps(event).encode()
    header = signature(genuine)
    tampered = genuine.replace(str(TOTAL).encode(), str(TOTAL * 10).encode())

    refused = [
        live.post("/api/v1/webhooks/stripe", content=tampered, headers={"Stripe-Signature": header}),
        live.post(
            "/api/v1/webhooks/stripe",
            content=genuine,
            headers={"Stripe-Signature": signature(genuine, "whsec_forged")},
        ),
        live.post("/api/v1/webhooks/stripe", content=genuine),
        live.post(
            "/api/v1/webhooks/stripe",
            content=genuine,
            headers={"Stripe-Signature": signature(genuine, at=int(time.time()) - 3600)},
        ),
    ]

    assert [r.status_code for r in refused] == [400, 400, 400, 400]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert attempt_status(db, body["id"]) == "pending"
    with Session(db) as session:
        assert balance(session, city.home.id) == TOTAL
        # (A previous test's late webhook may land here; only this event matters.)
        assert event["id"] not in session.exec(select(WebhookEvent.event_id)).all()


def earlier_failure(succeeded: dict) -> dict:
    """The payment_failed event Stripe sends for a declined first try of the same intent."""
    failed = json.loads(json.dumps(succeeded))
    failed["id"] = succeeded["id"] + "_declined_try"
    failed["type"] = "payment_intent.payment_failed"
    failed["created"] = succeeded["created"] - 60
    failed["data"]["object"]["status"] = "requires_payment_method"
    failed["data"]["object"]["last_payment_error"] = {
        "code": "card_declined",
        "message": "Your card was declined.",
    }
    return failed


@pytest.mark.parametrize("order", ["newest first", "oldest first"])
def test_events_out_of_order_leave_the_right_final_state(order, live, city, billed, db, localstripe):
    """A declined try, then success with another card: succeeded however the events arrive."""
    body = start_payment(live, city).json()
    register_webhook(localstripe, "http://127.0.0.1:9/nowhere")
    pay_with_card(localstripe, body["external_id"], GOOD_CARD)
    succeeded = wait_until(
        lambda: [
            e for e in events_of(localstripe, body["external_id"]) if e["type"] == "payment_intent.succeeded"
        ]
    )[0]
    events = [succeeded, earlier_failure(succeeded)]
    if order == "oldest first":
        events.reverse()

    for event in events:
        payload = json.dumps(event).encode()
        answer = live.post(
            "/api/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature(payload)}
        )
        assert answer.status_code == 200, answer.text

    assert attempt_status(db, body["id"]) == "succeeded"
    with Session(db) as session:
        assert balance(session, city.home.id) == 0
        handled = session.exec(select(WebhookEvent.event_id)).all()
        assert {e["id"] for e in events} <= set(handled)


def test_a_double_submitted_payment_makes_one_attempt(live, city, billed, db):
    first = start_payment(live, city, key="form-7f3a")
    second = start_payment(live, city, key="form-7f3a")

    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["client_secret"] == second.json()["client_secret"]
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 1


def test_reconciliation_books_a_payment_whose_webhook_never_came(
    live, city, billed, db, localstripe, stripe_settings
):
    register_webhook(localstripe, "http://127.0.0.1:9/nowhere")
    body = start_payment(live, city).json()
    pay_with_card(localstripe, body["external_id"], GOOD_CARD)
    soon = settings_for(stripe_settings.db.url, localstripe, reconcile_after_minutes=1)
    with Session(db) as session:  # as if the attempt had waited for two minutes
        attempt = session.get(PaymentAttempt, body["id"])
        attempt.updated_at = attempt.updated_at.replace(year=2020)
        session.add(attempt)
        session.commit()

    summary = jobs.reconcile_payments(db, soon)

    assert "1 moved on" in summary
    assert attempt_status(db, body["id"]) == "succeeded"
    with Session(db) as session:
        assert balance(session, city.home.id) == 0


def test_a_refund_goes_through_stripe_and_never_exceeds_the_payment(live, city, billed, db, localstripe):
    body = start_payment(live, city).json()
    pay_with_card(localstripe, body["external_id"], GOOD_CARD)
    wait_until(lambda: attempt_status(db, body["id"]) == "succeeded")
    manager = city.headers["manager"]

    half = live.post(
        f"/api/v1/payments/{body['id']}/refunds",
        json={"amount_minor": TOTAL // 2, "reason": "paid twice"},
        headers=manager,
    )
    too_much = live.post(
        f"/api/v1/payments/{body['id']}/refunds",
        json={"amount_minor": TOTAL, "reason": "again"},
        headers=manager,
    )

    assert half.status_code == 201, half.text
    assert half.json()["refunded_minor"] == TOTAL // 2 and half.json()["status"] == "succeeded"
    assert too_much.status_code == 422 and "left to refund" in too_much.json()["detail"]
    with Session(db) as session:
        assert balance(session, city.home.id) == TOTAL // 2
        assert session.get(Invoice, billed.id).status == InvoiceStatus.partially_paid


def test_a_card_payment_above_stripes_limit_is_refused_with_the_reason(live, city, session):
    make_billed_invoice(session, city.home, 150_000_000, period=date(2026, 9, 1))
    session.commit()

    answer = start_payment(live, city, amount=100_000_000)

    assert answer.status_code == 422
    assert "999,999.99 UZS" in answer.json()["detail"]
