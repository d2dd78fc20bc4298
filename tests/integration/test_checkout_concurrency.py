"""A double click on the pay form, both requests at once on PostgreSQL: one payment, both answered with it.

The first request's payment is saved but not committed when the second looks for the form's
key and finds nothing; the second's insert then waits on the unique key (the lock wait is
the proof it got that far), and once the first commits it answers the first's payment
instead of a unique-key error.
"""

import pytest
from sqlmodel import Session, func, select

from billing.models import Gateway, PaymentAttempt
from billing.payments.checkouts import open_checkout
from housing.accounts.models import Role
from tests.concurrency import run_together, wait_until_blocked
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.factories.core import make_apartment, make_owner, make_user
from tests.standins.click_checkout import click_group
from tests.standins.payme_checkout import payme_group

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="races need PostgreSQL (HOUSING_TEST_DATABASE_URL)"),
]


@pytest.fixture
def payer(session: Session):
    apartment = make_apartment(session)
    user = make_user(session, Role.resident, person_id=make_owner(session, apartment).id)
    session.commit()
    return apartment.id, user.id


@pytest.mark.parametrize("gateway", [Gateway.payme, Gateway.click])
def test_the_same_form_sent_twice_at_once_is_one_payment(db, database_url, payer, gateway):
    settings = make_settings(
        database_url,
        payme=payme_group("https://checkout.test.paycom.uz"),
        click=click_group("https://my.click.uz/services/pay"),
    )
    apartment_id, user_id = payer

    def start(session: Session) -> PaymentAttempt:
        return open_checkout(
            session,
            settings,
            gateway,
            apartment_id=apartment_id,
            amount_minor=51_000_000,
            user_id=user_id,
            client_key="form-1",
        )

    with Session(db, expire_on_commit=False) as first, Session(db, expire_on_commit=False) as second:
        mine = start(first)  # saved, not committed: the key's unique entry is held

        def late() -> int:
            attempt = start(second)
            second.commit()
            return attempt.id

        def commit_first() -> None:
            wait_until_blocked(db, "the second request never waited for the first's key")
            first.commit()

        results = run_together(late, commit_first)

    assert results == [mine.id, None], results
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 1
