"""Each issued invoice's notice is written with it: to every resident account of the apartment,
once, linked to the invoice; an invoice that is rolled back leaves no notice, and a notice that
cannot be written holds its invoice back."""

from datetime import date

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from billing.models import Invoice
from billing.runs.service import run_billing
from housing.accounts.models import Role
from housing.notifications.models import Notification
from housing.registry.service import add_ownership, add_residence
from tests.factories.core import make_apartment, make_owner, make_person, make_user
from tests.faults import allow_inserts, refuse_inserts

OCTOBER = date(2026, 10, 1)
TODAY = date(2026, 11, 1)


def _household(session: Session):
    """An apartment with an owner who logs in, a tenant who logs in, and a co-owner who does not."""
    apartment = make_apartment(session)
    owner = make_owner(session, apartment, share="1/2")
    make_owner(session, apartment, share="1/2")
    tenant = make_person(session)
    add_residence(session, apartment_id=apartment.id, person_id=tenant.id, valid_from=date(2024, 1, 1))
    users = [make_user(session, Role.resident, person_id=p.id) for p in (owner, tenant)]
    session.commit()
    return apartment, users


def _notices(session: Session) -> list[Notification]:
    return list(session.exec(select(Notification).order_by(Notification.user_id)).all())


def test_every_resident_account_gets_the_invoice_notice_once(
    session: Session, tashkent_tariffs: None
) -> None:
    _, users = _household(session)
    run_billing(session, period=OCTOBER, today=TODAY)
    session.commit()
    invoice = session.exec(select(Invoice)).one()
    notices = _notices(session)
    assert [n.user_id for n in notices] == [u.id for u in users]
    assert {n.kind for n in notices} == {"invoice_issued"}
    assert {n.link for n in notices} == {f"/invoices/{invoice.id}"}
    assert notices[0].params == {
        "number": invoice.number,
        "month": "2026-10-01",
        "amount_minor": invoice.total_minor,
        "currency": "UZS",
        "due": invoice.due_date.isoformat(),
    }
    run_billing(session, period=OCTOBER, today=TODAY)  # nothing left to bill: no second notice
    session.commit()
    assert len(_notices(session)) == 2


def test_an_owner_of_two_apartments_gets_a_notice_per_invoice(
    session: Session, tashkent_tariffs: None
) -> None:
    first = make_apartment(session)
    person = make_owner(session, first)
    second = make_apartment(session)
    add_ownership(
        session, apartment_id=second.id, person_id=person.id, share="1", valid_from=date(2020, 1, 1)
    )
    make_user(session, Role.resident, person_id=person.id)
    session.commit()
    run_billing(session, period=OCTOBER, today=TODAY)
    session.commit()
    invoices = {i.apartment_id: i.id for i in session.exec(select(Invoice))}
    assert sorted(n.link for n in _notices(session)) == sorted(f"/invoices/{i}" for i in invoices.values())


def test_an_inactive_account_and_a_moved_out_tenant_get_none(
    session: Session, tashkent_tariffs: None
) -> None:
    apartment, (owner_user, tenant_user) = _household(session)
    owner_user.is_active = False
    gone = make_person(session)
    add_residence(
        session,
        apartment_id=apartment.id,
        person_id=gone.id,
        valid_from=date(2020, 1, 1),
        valid_until=date(2023, 1, 1),
    )
    make_user(session, Role.resident, person_id=gone.id)
    session.commit()
    run_billing(session, period=OCTOBER, today=TODAY)
    session.commit()
    assert [n.user_id for n in _notices(session)] == [tenant_user.id]


def test_a_notice_that_cannot_be_written_holds_its_invoice_back(db: Engine, tashkent_tariffs: None) -> None:
    with Session(db) as session:
        _household(session)
    refuse_inserts(db, "notification")
    try:
        with Session(db) as session, pytest.raises(Exception, match="refused by the test"):
            run_billing(session, period=OCTOBER, today=TODAY)
            session.commit()
    finally:
        allow_inserts(db, "notification")
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(Invoice)).one() == 0
        assert session.exec(select(func.count()).select_from(Notification)).one() == 0
