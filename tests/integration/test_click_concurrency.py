"""Click's calls racing on PostgreSQL: the same Prepare twice at once opens one payment, the same
Complete twice at once books one ledger payment, and both copies get the same answer.

Click retries a call it thinks failed, so two copies of one call may arrive together. The app
is served for real on a loopback port; the copies are posted from threads released by one
barrier (`run_together`). To make the race certain rather than likely, the test holds the row
both copies need (the apartment for a Prepare, the payment for a Complete) until both are seen
waiting on it, then lets them go.
"""

import json
import threading
import urllib.request
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, func, select

from billing.ledger.service import balance
from billing.models import LedgerEntry, LedgerKind, PaymentAttempt, PaymentStatus
from housing.app import create_app
from tests.concurrency import DEADLINE, run_together, wait_until_blocked
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment
from tests.integration.stripe_helpers import serving
from tests.standins.click_calls import COMPLETE_URL, PREPARE_URL, click_group, complete_form, prepare_form

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (HOUSING_TEST_DATABASE_URL)")

DEBT = 400_000
ROUNDS = 5


@pytest.fixture
def served(database_url: str, db: Engine):
    with serving(create_app(make_settings(database_url, click=click_group()), engine=db)) as url:
        yield url


@pytest.fixture
def accounts(db: Engine) -> list[tuple[int, str]]:
    """Apartments owing DEBT each: (id, personal account number)."""
    with Session(db, expire_on_commit=False) as session:
        apartments = [make_apartment(session) for _ in range(ROUNDS)]
        for apartment in apartments:
            make_billed_invoice(session, apartment, DEBT)
        session.commit()
    return [(a.id, a.account_number) for a in apartments]


def post(url: str, form: dict[str, str]) -> dict:
    request = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        assert response.status == 200
        return json.loads(response.read())


def twice_at_once(url: str, form: dict[str, str]) -> list[dict]:
    answers = run_together(lambda: post(url, form), lambda: post(url, form))
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


def twice_while_held(db: Engine, url: str, form: dict[str, str], table: str, row_id: int) -> list[dict]:
    """Both copies posted while the test holds `table`'s row; released once both wait on it."""
    answers: list[dict] = []
    with db.connect() as holder:
        holder.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE"), {"id": row_id})
        sender = threading.Thread(target=lambda: answers.extend(twice_at_once(url, form)))
        sender.start()
        wait_until_blocked(db, f"the two copies never both waited on the {table}", sessions=2)
        holder.rollback()
        sender.join(DEADLINE)
    assert len(answers) == 2, "a copy did not answer"
    return answers


def rows(db: Engine) -> list[PaymentAttempt]:
    with Session(db) as session:
        return list(session.exec(select(PaymentAttempt).order_by(PaymentAttempt.id)))


def payments_booked(db: Engine) -> int:
    with Session(db) as session:
        return session.exec(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == LedgerKind.payment)
        ).one()


def test_the_same_prepare_twice_at_once_opens_one_payment(served, db, accounts):
    apartment_id, account = accounts[0]
    form = prepare_form(account, "4000.00")

    first, second = twice_while_held(db, served + PREPARE_URL, form, "apartment", apartment_id)

    assert first == second and first["error"] == 0, (first, second)
    [attempt] = rows(db)
    assert (attempt.id, attempt.external_id) == (first["merchant_prepare_id"], form["click_trans_id"])


def test_the_same_complete_twice_at_once_books_one_payment(served, db, accounts):
    apartment_id, account = accounts[0]
    prepared = prepare_form(account, "4000.00")
    payment_id = post(served + PREPARE_URL, prepared)["merchant_prepare_id"]
    completed = complete_form(prepared, payment_id)

    first, second = twice_while_held(db, served + COMPLETE_URL, completed, "payment_attempt", payment_id)

    assert first == second and (first["error"], first["merchant_confirm_id"]) == (0, payment_id)
    assert [a.status for a in rows(db)] == [PaymentStatus.succeeded]
    assert payments_booked(db) == 1
    with Session(db) as session:
        assert balance(session, apartment_id) == 0


def test_many_calls_each_posted_twice_at_once_book_each_payment_once(served, db, accounts):
    """Unheld races too: whichever copy wins, each payment is opened and booked once."""
    for _, account in accounts:
        prepared = prepare_form(account, "4000.00")
        first, second = twice_at_once(served + PREPARE_URL, prepared)
        assert first == second and first["error"] == 0
        done = twice_at_once(served + COMPLETE_URL, complete_form(prepared, first["merchant_prepare_id"]))
        assert done[0] == done[1] and done[0]["error"] == 0

    assert len(rows(db)) == ROUNDS and payments_booked(db) == ROUNDS
    with Session(db) as session:
        assert all(balance(session, apartment_id) == 0 for apartment_id, _ in accounts)
