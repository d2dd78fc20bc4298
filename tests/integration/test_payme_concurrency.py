"""Payme's calls at the same moment on PostgreSQL, through the app served for real: the same
CreateTransaction twice makes one transaction, the same PerformTransaction twice books one
payment, and a perform racing a cancel ends in one consistent state that the ledger matches.

Payme retries a call it thinks lost, so two copies may overlap. The deterministic tests hold
the row the calls lock (the account for a new transaction, the transaction for the others)
until both calls wait on it (`wait_until_blocked`), then let go; the others release many pairs
from one barrier (`run_together`).
"""

import threading
from datetime import date
from functools import partial

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, func, select

from billing.ledger.service import balance
from billing.models import Gateway, LedgerEntry, LedgerKind, PaymentAttempt
from housing.accounts.models import Role
from housing.app import create_app
from housing.notifications.models import Notification
from housing.registry.models import Apartment
from tests.concurrency import run_together, wait_until_blocked
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment, make_owner, make_user
from tests.servers import listening_socket, serving_in_thread
from tests.standins.payme_calls import Answer, Payme, payme_group, transaction_id

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (HOUSING_TEST_DATABASE_URL)")

DEBT = 600_000
PAIRS = 8


@pytest.fixture
def payme(database_url, db):
    settings = make_settings(database_url, payme=payme_group())
    with serving_in_thread(create_app(settings, engine=db), listening_socket()) as url:
        yield Payme.at(url)


def households(db: Engine, count: int) -> list[Apartment]:
    with Session(db, expire_on_commit=False) as session:
        apartments = []
        for _ in range(count):
            apartment = make_apartment(session)
            person = make_owner(session, apartment)
            make_user(session, Role.resident, person_id=person.id)
            make_billed_invoice(session, apartment, DEBT, period=date(2026, 10, 1))
            apartments.append(apartment)
        session.commit()
    return apartments


def ledger(db: Engine, apartment_id: int) -> list[tuple[str, int]]:
    with Session(db) as session:
        rows = session.exec(
            select(LedgerEntry.kind, LedgerEntry.amount_minor)
            .where(LedgerEntry.apartment_id == apartment_id, LedgerEntry.kind != LedgerKind.charge)
            .order_by(col(LedgerEntry.id))
        ).all()
    return [(str(kind), amount) for kind, amount in rows]


def payme_transactions(db: Engine, apartment_id: int) -> list[PaymentAttempt]:
    with Session(db) as session:
        return list(
            session.exec(
                select(PaymentAttempt).where(
                    PaymentAttempt.gateway == Gateway.payme, PaymentAttempt.apartment_id == apartment_id
                )
            ).all()
        )


def answered(results: list[object]) -> list[Answer]:
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def while_holding(db: Engine, lock_sql: str, row_id: int, *calls) -> list[Answer]:
    """The calls started together while this test holds a row lock; released once both wait on it."""
    results: list[object] = []
    with db.connect() as holder:
        holder.execute(text(lock_sql), {"id": row_id})
        runner = threading.Thread(target=lambda: results.extend(run_together(*calls)))
        runner.start()
        wait_until_blocked(db, "the two calls never both waited on the lock", sessions=len(calls))
        holder.rollback()
        runner.join(timeout=60)
    assert len(results) == len(calls), "a call did not come back"
    return answered(results)


def test_the_same_create_twice_at_once_opens_one_transaction(payme, db):
    (apartment,) = households(db, 1)
    tid = transaction_id()

    first, second = while_holding(
        db,
        "SELECT id FROM apartment WHERE id = :id FOR UPDATE",
        apartment.id,
        lambda: payme.create(tid, apartment.account_number, 400_000),
        lambda: payme.create(tid, apartment.account_number, 400_000),
    )

    assert first.result == second.result and first.result["state"] == 1
    (transaction,) = payme_transactions(db, apartment.id)
    assert first.result["transaction"] == str(transaction.id)


def test_the_same_perform_twice_at_once_books_one_payment(payme, db):
    (apartment,) = households(db, 1)
    tid = transaction_id()
    created = payme.create(tid, apartment.account_number, 400_000).result

    first, second = while_holding(
        db,
        "SELECT id FROM payment_attempt WHERE id = :id FOR UPDATE",
        int(created["transaction"]),
        lambda: payme.perform(tid),
        lambda: payme.perform(tid),
    )

    assert first.result == second.result and first.result["state"] == 2
    assert ledger(db, apartment.id) == [("payment", -400_000)]
    with Session(db) as session:
        assert balance(session, apartment.id) == DEBT - 400_000
        received = (
            select(func.count()).select_from(Notification).where(Notification.kind == "payment_received")
        )
        assert session.exec(received).one() == 1


def test_many_pairs_of_the_same_create_and_perform_at_once(payme, db):
    apartments = households(db, PAIRS)
    tids = [transaction_id() for _ in apartments]

    for apartment, tid in zip(apartments, tids, strict=True):
        created = answered(run_together(*[partial(payme.create, tid, apartment.account_number, 250_000)] * 2))
        assert created[0].result == created[1].result
        performed = answered(run_together(*[partial(payme.perform, tid)] * 2))
        assert performed[0].result == performed[1].result and performed[0].result["state"] == 2

    for apartment in apartments:
        assert len(payme_transactions(db, apartment.id)) == 1
        assert ledger(db, apartment.id) == [("payment", -250_000)]


def test_a_perform_racing_a_cancel_ends_consistent_with_the_ledger(payme, db):
    apartments = households(db, PAIRS)
    ends = set()
    for apartment in apartments:
        tid = transaction_id()
        payme.create(tid, apartment.account_number, 400_000)

        performed, cancelled = answered(
            run_together(partial(payme.perform, tid), partial(payme.cancel, tid, 5))
        )

        state = payme.check(tid).result["state"]
        ends.add(state)
        if state == -1:  # the cancel came first: the perform is refused, no money moved
            assert performed.code == -31008 and cancelled.result["state"] == -1
            assert ledger(db, apartment.id) == []
        else:  # the perform came first: the cancel handed the money back
            assert state == -2
            assert performed.result["state"] == 2 and cancelled.result["state"] == -2
            assert ledger(db, apartment.id) == [("payment", -400_000), ("refund", 400_000)]
        with Session(db) as session:
            assert balance(session, apartment.id) == DEBT
    assert ends <= {-1, -2}


def test_a_perform_and_a_cancel_waiting_on_the_same_transaction(payme, db):
    """Both queue on the transaction's lock; whichever goes first, the other answers from its end."""
    (apartment,) = households(db, 1)
    tid = transaction_id()
    created = payme.create(tid, apartment.account_number, 400_000).result

    performed, cancelled = while_holding(
        db,
        "SELECT id FROM payment_attempt WHERE id = :id FOR UPDATE",
        int(created["transaction"]),
        lambda: payme.perform(tid),
        lambda: payme.cancel(tid, 5),
    )

    final = payme.check(tid).result
    assert cancelled.result["state"] == final["state"] in (-1, -2)
    expected = [] if final["state"] == -1 else [("payment", -400_000), ("refund", 400_000)]
    assert ledger(db, apartment.id) == expected
    assert (performed.code == -31008) is (final["state"] == -1)
