"""Payment verbs on SQLite: forward-only statuses, one ledger entry per payment, refunds, bank and office payments.

The card gateway here is a small in-memory stand-in: it is used where the real local
Stripe server cannot show the behaviour (it ignores idempotency keys, and it cannot be
made to time out). The flows against that server are in tests/integration.
"""

import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, func, select

from billing.ledger.service import balance
from billing.models import Gateway, InvoiceStatus, LedgerEntry, LedgerKind, PaymentAttempt, PaymentStatus
from billing.payments import service, webhooks
from billing.payments.gateway import GatewayError, GatewayEvent, GatewayUnavailable, Intent
from billing.payments.jobs import reconcile_payments
from housing.accounts.models import Role
from housing.errors import Conflict, Invalid, Unavailable
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment, make_owner, make_user

PAID_AT = datetime(2026, 11, 10, 9, tzinfo=UTC)


class StandInGateway:
    """Remembers intents by idempotency key, as Stripe does; can be told to fail the next call."""

    publishable_key = "pk_test"

    def __init__(self) -> None:
        self.intents: dict[str, Intent] = {}
        self.calls = 0
        self.fail_next: Exception | None = None

    def create_intent(self, *, amount_minor, currency, idempotency_key, metadata) -> Intent:
        self.calls += 1
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        if idempotency_key not in self.intents:
            self.intents[idempotency_key] = Intent(
                id=f"pi_{len(self.intents) + 1}",
                status=PaymentStatus.pending,
                amount_minor=amount_minor,
                currency=currency,
                client_secret=f"pi_{len(self.intents) + 1}_secret",
                metadata=metadata,
            )
        return self.intents[idempotency_key]

    def retrieve_intent(self, intent_id):
        return next(i for i in self.intents.values() if i.id == intent_id)

    def cancel_intent(self, intent_id):
        raise NotImplementedError

    def refund(self, *, intent_id, amount_minor, idempotency_key):
        return f"re_{idempotency_key}"

    def verify_event(self, payload, signature):
        raise NotImplementedError


@pytest.fixture
def owing(session: Session):
    apartment = make_apartment(session)
    invoice = make_billed_invoice(session, apartment, 30_000_000)
    payer = make_user(session, Role.resident, person_id=make_owner(session, apartment).id)
    return apartment, invoice, payer


def ledger(session, apartment_id, kind):
    return session.exec(
        select(LedgerEntry.amount_minor).where(
            LedgerEntry.apartment_id == apartment_id, LedgerEntry.kind == kind
        )
    ).all()


def test_a_succeeded_payment_is_booked_once_and_never_moves_back(session, owing):
    apartment, invoice, payer = owing
    attempt, _ = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=30_000_000, user_id=payer.id
    )
    intent = Intent(id="pi_1", status=PaymentStatus.succeeded, amount_minor=30_000_000, currency="UZS")
    attempt.external_id = intent.id

    assert service.apply_intent(session, attempt, intent) is True
    assert service.apply_intent(session, attempt, intent) is False
    late_failure = replace(intent, status=PaymentStatus.failed, failure_message="declined")
    assert service.apply_intent(session, attempt, late_failure) is False

    assert attempt.status == PaymentStatus.succeeded
    assert ledger(session, apartment.id, LedgerKind.payment) == [-30_000_000]
    assert invoice.status == InvoiceStatus.paid


def test_a_card_payment_is_at_most_the_balance_and_stripes_limit(session, owing):
    apartment, _, payer = owing
    for amount, reason in [
        (0, "more than zero"),
        (30_000_001, "300,000.00 UZS owed"),
        (100_000_000, "999,999.99"),
    ]:
        with pytest.raises(Invalid, match=reason):
            service.open_card_payment(
                session, apartment_id=apartment.id, amount_minor=amount, user_id=payer.id
            )
    assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 0


def test_the_same_client_key_returns_the_first_attempt(session, owing):
    apartment, _, payer = owing
    first, new = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=1_000, user_id=payer.id, client_key="k"
    )
    again, again_new = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=1_000, user_id=payer.id, client_key="k"
    )
    assert (new, again_new, again.id) == (True, False, first.id)
    with pytest.raises(Conflict, match="another payment"):
        service.open_card_payment(
            session, apartment_id=apartment.id, amount_minor=2_000, user_id=payer.id, client_key="k"
        )


def test_an_unanswered_gateway_leaves_the_attempt_to_be_sent_again_with_the_same_key(session, owing):
    apartment, _, payer = owing
    gateway = StandInGateway()
    attempt, _ = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=5_000, user_id=payer.id
    )
    gateway.fail_next = GatewayUnavailable("timed out")

    with pytest.raises(Unavailable, match="nothing was charged yet"):
        service.send_card_payment(session, gateway, attempt)
    assert (attempt.status, attempt.external_id) == (PaymentStatus.created, None)

    # The stand-in made the intent before "timing out" on a real gateway; the key finds it again.
    service.send_card_payment(session, gateway, attempt)
    service.send_card_payment(session, gateway, attempt)
    assert len(gateway.intents) == 1
    assert attempt.external_id == "pi_1" and attempt.status == PaymentStatus.pending
    assert attempt.idempotency_key == f"apartment:{apartment.id}:attempt:1"


def test_a_refused_card_payment_fails_the_attempt_with_the_gateways_message(session, owing):
    apartment, _, payer = owing
    gateway = StandInGateway()
    gateway.fail_next = GatewayError("Your card was declined.", code="card_declined")
    attempt, _ = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=5_000, user_id=payer.id
    )

    with pytest.raises(Invalid, match="declined"):
        service.send_card_payment(session, gateway, attempt)

    assert attempt.status == PaymentStatus.failed and "declined" in attempt.failure_message
    assert balance(session, apartment.id) == 30_000_000


def test_a_webhook_event_acts_once(session, owing):
    apartment, _, payer = owing
    attempt, _ = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=10_000_000, user_id=payer.id
    )
    attempt.external_id = "pi_9"
    intent = Intent(id="pi_9", status=PaymentStatus.succeeded, amount_minor=10_000_000, currency="UZS")
    event = GatewayEvent(id="evt_1", type="payment_intent.succeeded", created=PAID_AT, intent=intent)

    first = webhooks.handle_event(session, event)
    second = webhooks.handle_event(session, event)

    assert (first.duplicate, second.duplicate) == (False, True)
    assert ledger(session, apartment.id, LedgerKind.payment) == [-10_000_000]


def test_a_refund_in_the_dashboard_and_ours_are_booked_once(session, owing):
    apartment, invoice, payer = owing
    attempt = service.record_manual_payment(
        session,
        apartment_id=apartment.id,
        amount_minor=30_000_000,
        gateway=Gateway.office,
        reference="R-1",
        paid_at=PAID_AT,
        user_id=payer.id,
    )
    service.refund_payment(
        session, None, attempt=attempt, amount_minor=10_000_000, user_id=payer.id, reason="overpaid"
    )
    with pytest.raises(Invalid, match=r"200,000\.00 UZS of payment"):
        service.refund_payment(
            session, None, attempt=attempt, amount_minor=20_000_001, user_id=payer.id, reason="x"
        )
    service.refund_payment(
        session, None, attempt=attempt, amount_minor=20_000_000, user_id=payer.id, reason="all"
    )

    assert attempt.status == PaymentStatus.refunded and attempt.refunded_minor == 30_000_000
    assert ledger(session, apartment.id, LedgerKind.refund) == [10_000_000, 20_000_000]
    assert balance(session, apartment.id) == 30_000_000
    assert invoice.status == InvoiceStatus.issued
    with pytest.raises(Conflict, match="only a succeeded payment"):
        service.refund_payment(
            session, None, attempt=attempt, amount_minor=1, user_id=payer.id, reason="more"
        )


def test_a_charge_refunded_event_books_only_what_we_have_not(session, owing):
    apartment, _, payer = owing
    attempt, _ = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=10_000_000, user_id=payer.id
    )
    attempt.external_id = "pi_5"
    service.apply_intent(session, attempt, Intent("pi_5", PaymentStatus.succeeded, 10_000_000, "UZS"))
    service.refund_payment(
        session, StandInGateway(), attempt=attempt, amount_minor=4_000_000, user_id=payer.id, reason="r"
    )

    event = GatewayEvent(
        id="evt_r",
        type="charge.refunded",
        created=PAID_AT,
        refunded_intent_id="pi_5",
        refunded_minor=6_000_000,
    )
    webhooks.handle_event(session, event)

    assert ledger(session, apartment.id, LedgerKind.refund) == [4_000_000, 2_000_000]
    assert attempt.refunded_minor == 6_000_000


def test_bank_and_office_payments_settle_invoices_oldest_first(session, owing):
    apartment, october, _ = owing
    november = make_billed_invoice(session, apartment, 20_000_000, period=october.period.replace(month=11))

    def record(amount_minor: int, gateway: Gateway) -> None:
        service.record_manual_payment(
            session,
            apartment_id=apartment.id,
            amount_minor=amount_minor,
            gateway=gateway,
            reference="BANK-77",
            paid_at=PAID_AT,
            user_id=None,
        )

    record(40_000_000, Gateway.bank)
    assert (october.status, november.status) == (InvoiceStatus.paid, InvoiceStatus.partially_paid)

    with pytest.raises(Conflict, match="already recorded"):
        record(40_000_000, Gateway.bank)
    record(15_000_000, Gateway.office)
    assert november.status == InvoiceStatus.paid
    assert balance(session, apartment.id) == -5_000_000  # a credit carried forward


def test_reconciliation_keeps_a_refusal_instead_of_retrying_it_for_ever(session, owing, db, settings):
    apartment, _, payer = owing
    attempt, _ = service.open_card_payment(
        session, apartment_id=apartment.id, amount_minor=5_000, user_id=payer.id
    )
    attempt.updated_at = PAID_AT.replace(year=2020)  # pending long enough to be reconciled
    session.add(attempt)
    session.commit()
    gateway = StandInGateway()
    gateway.fail_next = GatewayError("Amount must convert to at least 50 cents", code="amount_too_small")

    summary = reconcile_payments(db, settings, gateway=gateway)

    session.expire_all()
    refused = session.get(PaymentAttempt, attempt.id)
    assert refused.status == PaymentStatus.failed and "50 cents" in refused.failure_message
    assert "1 moved on" in summary


def test_reconciliation_logs_a_failing_payment_and_brings_the_others_up_to_date(
    session, owing, db, settings, caplog
):
    apartment, _, payer = owing
    gateway = StandInGateway()
    attempts = []
    for key in ("first", "second"):
        attempt, _ = service.open_card_payment(
            session, apartment_id=apartment.id, amount_minor=5_000, user_id=payer.id, client_key=key
        )
        service.send_card_payment(session, gateway, attempt)
        attempt.updated_at = PAID_AT.replace(year=2020)  # pending long enough to be reconciled
        session.add(attempt)
        attempts.append(attempt)
    session.commit()
    broken, paid = attempts
    gateway.intents = {
        key: replace(intent, status=PaymentStatus.succeeded) for key, intent in gateway.intents.items()
    }
    retrieve = gateway.retrieve_intent

    def retrieve_intent(intent_id):
        if intent_id == broken.external_id:
            raise RuntimeError("an answer we cannot read")
        return retrieve(intent_id)

    gateway.retrieve_intent = retrieve_intent

    with caplog.at_level(logging.WARNING, logger="billing.payments.jobs"):
        summary = reconcile_payments(db, settings, gateway=gateway)

    session.expire_all()
    assert session.get(PaymentAttempt, paid.id).status == PaymentStatus.succeeded
    assert session.get(PaymentAttempt, broken.id).status == PaymentStatus.pending  # left for the next run
    assert ledger(session, apartment.id, LedgerKind.payment) == [-5_000]
    assert "1 moved on" in summary and "1 to retry" in summary
    [record] = [r for r in caplog.records if r.name == "billing.payments.jobs"]
    assert f"payment {broken.id} failed" in record.getMessage() and record.exc_info is not None
