"""A payment booked through Stripe's webhook is told to the residents in the webhook's transaction:
once however often Stripe delivers the event, and never apart from the payment (a notice that
cannot be written holds the booking back, and Stripe's next delivery books both)."""

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from billing.ledger.service import balance
from billing.models import LedgerEntry, LedgerKind, PaymentStatus
from housing.accounts.models import Role
from housing.app import create_app
from housing.notifications.models import Notification
from housing.registry.models import Apartment
from tests.api.test_webhooks import TOTAL, deliver, event
from tests.conftest import make_settings
from tests.factories.billing import make_billed_invoice, make_payment_attempt
from tests.factories.core import make_apartment, make_owner, make_user
from tests.faults import allow_inserts, refuse_inserts
from tests.integration.stripe_helpers import webhooks_only_group


@pytest.fixture
def stripe_client(database_url, db):
    settings = make_settings(database_url, stripe=webhooks_only_group())
    with TestClient(create_app(settings, engine=db), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def pending(session: Session):
    """A card payment of the whole invoice, sent to Stripe as intent pi_home and not yet paid."""
    apartment = make_apartment(session)
    make_billed_invoice(session, apartment, TOTAL, period=date(2026, 10, 1))
    attempt = make_payment_attempt(
        session, apartment, amount_minor=TOTAL, external_id="pi_home", status=PaymentStatus.pending
    )
    session.commit()
    return attempt


def _residents(session: Session, apartment_id: int) -> list[int]:
    """Two co-owners with an account each."""
    apartment = session.get(Apartment, apartment_id)
    owners = [make_owner(session, apartment, share="1/2") for _ in range(2)]
    users = [make_user(session, Role.resident, person_id=owner.id) for owner in owners]
    session.commit()
    return sorted(u.id for u in users)


def _received(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).where(Notification.kind == "payment_received")))


def test_a_webhook_delivered_three_times_tells_each_resident_once(stripe_client, session, pending):
    residents = _residents(session, pending.apartment_id)
    for _ in range(3):
        assert deliver(stripe_client, event("evt_paid")).status_code == 200
    assert deliver(stripe_client, event("evt_paid_again")).status_code == 200  # another event, same payment

    found = _received(session)
    assert sorted(n.user_id for n in found) == residents
    assert {n.link for n in found} == {f"/payments/{pending.id}"}


def test_a_notice_that_cannot_be_written_holds_the_payment_back_until_stripe_retries(
    stripe_client, session, pending, db
):
    residents = _residents(session, pending.apartment_id)
    refuse_inserts(db, "notification")
    try:
        assert deliver(stripe_client, event("evt_paid")).status_code >= 400  # Stripe retries a failure
    finally:
        allow_inserts(db, "notification")
    session.expire_all()
    payments = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == LedgerKind.payment)
    assert session.exec(payments).one() == 0 and _received(session) == []

    assert deliver(stripe_client, event("evt_paid")).status_code == 200  # Stripe's retry
    assert sorted(n.user_id for n in _received(session)) == residents
    assert balance(session, pending.apartment_id) == 0
