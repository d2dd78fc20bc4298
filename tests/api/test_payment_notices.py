"""A payment booked through Stripe's webhook is told to the residents in the webhook's transaction:
once however often Stripe delivers the event, and never apart from the payment (a notice that
cannot be written holds the booking back, and Stripe's next delivery books both)."""

from sqlmodel import Session, func, select

from billing.ledger.service import balance
from billing.models import LedgerEntry, LedgerKind
from housing.accounts.models import Role
from housing.notifications.models import Notification
from housing.registry.models import Apartment
from tests.api.stripe_events import deliver, event
from tests.factories.core import make_owner, make_user
from tests.faults import allow_inserts, refuse_inserts


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
