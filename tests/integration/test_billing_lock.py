"""The billing run's numbering lock between transactions: a PostgreSQL advisory lock.

Moved from tests/unit/test_billing_run.py: these need two real transactions at once.
"""

import os
import threading
import time as wall
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from billing.models import Invoice, LedgerEntry
from billing.runs.service import draft_invoices, issue_invoices, run_billing
from tests.factories.core import make_apartment, make_building

pytestmark = pytest.mark.skipif(
    "postgresql" not in (os.environ.get("HOUSING_TEST_DATABASE_URL") or ""),
    reason="the advisory lock exists on PostgreSQL only",
)

OCTOBER = date(2026, 10, 1)
TODAY = date(2026, 11, 1)


def count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def waiter_on_the_lock(db: Engine, deadline: float = 30) -> bool:
    """Whether another transaction comes to wait for an advisory lock within `deadline` seconds."""
    until = wall.monotonic() + deadline
    with db.connect() as watcher:
        while wall.monotonic() < until:
            query = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)")
            if watcher.execute(query).scalar_one():
                return True
            wall.sleep(0.02)  # the poll's pace; the proof is the row in pg_locks
    return False


def test_a_second_concurrent_run_is_locked_out(db: Engine, tashkent_tariffs: None) -> None:
    with Session(db) as setup:
        make_apartment(setup)
        setup.commit()
    with Session(db) as first, Session(db) as second:
        assert run_billing(first, period=OCTOBER, today=TODAY).issued == 1  # holds the lock, not committed
        blocked = run_billing(second, period=OCTOBER, today=TODAY)
        assert blocked.locked_out and blocked.issued == 0
        first.commit()
        assert run_billing(second, period=OCTOBER, today=TODAY).issued == 0


def committed_apartments(db: Engine, count_: int) -> list[int]:
    """`count_` apartments of one company's building, committed so that other sessions see them."""
    with Session(db) as setup:
        building = make_building(setup)
        ids = [make_apartment(setup, building).id for _ in range(count_)]
        setup.commit()
    return ids


def numbers_by_apartment(db: Engine) -> dict[int, str]:
    with Session(db) as session:
        return dict(session.exec(select(Invoice.apartment_id, Invoice.number)).all())


def test_a_batch_is_drafted_while_another_holds_the_lock_and_numbered_after_it(
    db: Engine, tashkent_tariffs: None
) -> None:
    a, b, c, d = committed_apartments(db, 4)
    with Session(db) as first, Session(db) as second:
        first_summary, first_drafts = draft_invoices(first, period=OCTOBER, today=TODAY, apartment_ids=[a, b])
        assert issue_invoices(first, first_summary, first_drafts)  # holds the lock, not committed

        # b is drafted again: the first transaction has not committed it yet.
        summary, drafts = draft_invoices(second, period=OCTOBER, today=TODAY, apartment_ids=[b, c, d])
        assert [(x.apartment_id, x.number) for x in drafts] == [(b, None), (c, None), (d, None)]
        assert not issue_invoices(second, summary, drafts)  # the lock is taken: nothing written
        assert summary.issued == 0
        first.commit()
        assert issue_invoices(second, summary, drafts)  # leaves b out, numbers after the first's
        second.commit()

    assert (first_summary.issued, summary.issued) == (2, 2)
    assert numbers_by_apartment(db) == {
        a: "2026-000001",
        b: "2026-000002",
        c: "2026-000003",
        d: "2026-000004",
    }
    with Session(db) as session:
        assert count(session, Invoice) == count(session, LedgerEntry) == 4


def test_two_batch_transactions_at_once_number_without_gaps_or_duplicates(
    db: Engine, tashkent_tariffs: None
) -> None:
    ids = committed_apartments(db, 10)
    drafted = threading.Barrier(2)
    held, first_lock = threading.Event(), threading.Lock()

    def bill(apartment_ids: list[int]) -> int:
        with Session(db) as session:
            summary, drafts = draft_invoices(
                session, period=OCTOBER, today=TODAY, apartment_ids=apartment_ids
            )
            drafted.wait(timeout=30)  # both have drafted; now both want the lock
            assert issue_invoices(session, summary, drafts, wait=True)
            with first_lock:
                first = not held.is_set()
                held.set()
            if first:  # holding the lock: the other waits for it, it is not locked out
                assert waiter_on_the_lock(db), "the other transaction never waited for the lock"
            session.commit()
            return summary.issued

    with ThreadPoolExecutor(2) as pool:
        odd, even = pool.submit(bill, ids[0::2]), pool.submit(bill, ids[1::2])
        assert (odd.result(timeout=60), even.result(timeout=60)) == (5, 5)

    numbers = numbers_by_apartment(db)
    assert sorted(numbers) == ids
    assert sorted(numbers.values()) == [f"2026-{n:06d}" for n in range(1, 11)]
    for half in (ids[0::2], ids[1::2]):  # each transaction numbered its apartments in order, in one run
        sequences = [int(numbers[i][5:]) for i in half]
        assert sequences == list(range(sequences[0], sequences[0] + 5))
